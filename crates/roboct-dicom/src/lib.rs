//! DICOM for roboct: orders in, progress and results out, nothing lost.
//!
//! The scanner speaks DICOM to the hospital like any CT modality under IHE Scheduled
//! Workflow:
//!
//! * [`worklist`]: Modality Worklist C-FIND SCU ([`worklist::query_worklist`]); orders carry
//!   patient data as [`roboct_core::Phi`].
//! * [`mpps`]: Modality Performed Procedure Step N-CREATE at scan start and N-SET
//!   (COMPLETED / DISCONTINUED with a reason) with the dose and every series made.
//! * [`ct`]: CT Image Storage series from volumes or reconstruction slabs
//!   ([`ct::CtSeriesWriter`]), HU as signed 16-bit with rescale, geometry from the
//!   [`roboct_geometry::VolumeGrid`]; the one mu -> HU conversion is [`ct::VoxelUnits`].
//! * [`sr`]: X-Ray Radiation Dose SR (TID 10011), a findings Comprehensive SR and a Key
//!   Object Selection ([`sr::ReportWriter`]).
//! * [`reader`]: any single-frame CT series from a folder back into a volume.
//! * [`dimse`]: the DIMSE message layer (C-ECHO, C-STORE, C-FIND, N-CREATE, N-SET) over
//!   dicom-ul associations, written once for all of the above.
//! * [`outbox`], [`send`], [`upload`]: the durable store-and-forward outbox, the C-STORE and
//!   STOW-RS senders, and the uploader that drains the outbox with backoff, including
//!   [`upload::stream_series`], which sends slices while later slabs are still being
//!   reconstructed.
//! * [`scp`]: a small DICOM SCP (C-ECHO, C-STORE of CT, SR, KO and SC, MPPS N-CREATE/N-SET)
//!   that files what it receives under a folder: the embedded PACS of `roboct demo` and the
//!   tests' receiving peer, not a production PACS.
//! * [`config`]: PACS/RIS endpoints from TOML, credentials from the environment or files.
//!
//! The upload benchmark (`roboct bench upload`) and the loopback peers the tests start
//! (Orthanc, dcmtk) live in `roboct-bench`: this crate starts no programs.
//!
//! dicom-rs types stay inside this crate: callers see volumes, instances (Part 10 bytes),
//! UIDs and plain structs. The one exception is [`part10`], the deliberate bridge for callers
//! that build or inspect data sets with dicom-rs themselves (the tests, a site's own tools):
//! its encoders and decoders take and return [`part10::InMemDicomObject`], re-exported so
//! that such a caller uses the same dicom-rs version as this crate.
//!
//! # Frames
//! roboct's world frame is the scanner's (z along the rotation axis, see
//! `roboct_geometry::conventions`); it equals the DICOM patient frame (LPS) only for a patient
//! lying head first supine. [`ct::PatientPosition`] turns scanner coordinates into patient
//! coordinates for the other positions when CT series are written, and volumes read by
//! [`reader`] are in the patient frame of the files. A grid's origin is the centre of voxel
//! (0, 0, 0), which DICOM calls Image Position (Patient) of the first slice.

#![forbid(unsafe_code)]

pub mod config;
pub mod ct;
pub mod dimse;
pub mod mpps;
pub mod outbox;
pub mod part10;
pub mod reader;
mod recovery;
pub mod scp;
pub mod send;
pub mod sr;
pub mod study;
pub mod uid;
pub mod upload;
pub mod worklist;

/// An error and its causes on one line, without repeating a cause that its parent's message
/// already includes (reqwest and dicom-ul both do that).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}
