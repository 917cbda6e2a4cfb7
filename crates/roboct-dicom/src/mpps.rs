//! Modality Performed Procedure Step (PS3.4 Annex F, IHE RAD-6/RAD-7): N-CREATE with status
//! IN PROGRESS when the scan starts, N-SET with COMPLETED or DISCONTINUED (and the reason) at
//! the end, carrying the dose and every series and instance made.

use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::dimse::{Association, AssociationOptions, NetError, Peer, ProposedContext};
use crate::part10::{EXPLICIT_VR_LE, IMPLICIT_VR_LE, encode_dataset, put_str};
use crate::sr::{Code, DoseReport, ImageRef};
use crate::study::{StudyContext, UtcOffset, format_ds, put_seq, sop_reference};
use crate::uid::UidGenerator;

/// Modality Performed Procedure Step SOP Class.
pub const MPPS_SOP_CLASS: &str = "1.2.840.10008.3.1.2.3.3";

/// A series made during the step, for the Performed Series Sequence.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PerformedSeries {
    /// Series Instance UID.
    pub series_instance_uid: String,
    /// Series Description.
    pub description: String,
    /// Protocol Name.
    pub protocol_name: String,
    /// AE title the series can be retrieved from (the PACS), may be empty.
    pub retrieve_ae_title: String,
    /// The instances. Images go to the Referenced Image Sequence, SR and KO documents to the
    /// Referenced Non-Image Composite SOP Instance Sequence.
    pub instances: Vec<ImageRef>,
}

/// How the step ended.
#[derive(Clone, Debug, PartialEq)]
pub enum StepEnd {
    /// Everything was acquired.
    Completed,
    /// Stopped early, with a reason from CID 9300 (e.g. `110513` "Discontinued for
    /// unspecified reason", `110501` "Equipment failure", `110503` "Patient condition
    /// prevented continuing").
    Discontinued(Code),
}

/// The final state of a step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepResult {
    /// Completed or discontinued.
    pub end: StepEnd,
    /// Series made (possibly fewer than planned when discontinued).
    pub series: Vec<PerformedSeries>,
    /// The dose delivered.
    pub dose: Option<DoseReport>,
}

/// Why an MPPS operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MppsError {
    /// Network or DIMSE failure.
    #[error("MPPS {operation} to {peer} failed: {source}")]
    Net {
        /// N-CREATE or N-SET.
        operation: &'static str,
        /// The MPPS SCP.
        peer: String,
        /// The cause.
        source: NetError,
    },
    /// The attributes could not be encoded.
    #[error("cannot encode the MPPS attributes: {0}")]
    Encode(String),
}

/// An MPPS in progress, as created on the SCP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerformedStep {
    /// The MPPS SOP Instance UID (goes into every object's Referenced PPS).
    pub sop_instance_uid: String,
    /// Performed Procedure Step ID.
    pub id: String,
    /// The UTC offset its dates and times are written at (the study's).
    pub utc_offset: UtcOffset,
}

fn send(
    peer: &Peer,
    options: &AssociationOptions,
    operation: &'static str,
    attrs: &InMemDicomObject,
    sop_instance_uid: &str,
) -> Result<(), MppsError> {
    let net = |source| MppsError::Net {
        operation,
        peer: peer.to_string(),
        source,
    };
    let mut assoc = Association::open(
        peer,
        options,
        &[ProposedContext::new(
            MPPS_SOP_CLASS,
            &[EXPLICIT_VR_LE, IMPLICIT_VR_LE],
        )],
    )
    .map_err(net)?;
    let pc = assoc.context_for(MPPS_SOP_CLASS, &[]).map_err(net)?.clone();
    let bytes =
        encode_dataset(attrs, &pc.transfer_syntax).map_err(|e| MppsError::Encode(e.to_string()))?;
    let result = if operation == "N-CREATE" {
        assoc.n_create(pc.id, MPPS_SOP_CLASS, sop_instance_uid, &bytes)
    } else {
        assoc.n_set(pc.id, MPPS_SOP_CLASS, sop_instance_uid, &bytes)
    };
    result.map_err(net)?;
    let _ = assoc.release();
    Ok(())
}

/// The N-CREATE attributes (PS3.4 Table F.7.2-1) for a step of `study` starting now.
pub fn create_attributes(
    study: &StudyContext,
    step_id: &str,
    station_ae: &str,
) -> InMemDicomObject {
    let (date, time) = study.now();
    let mut o = InMemDicomObject::new_empty();
    // SOP Common: the offset of every date and time of the step (its N-SET uses it too).
    put_str(
        &mut o,
        tags::TIMEZONE_OFFSET_FROM_UTC,
        VR::SH,
        &study.utc_offset.to_string(),
    );
    // Performed Procedure Step Relationship
    let mut sched = InMemDicomObject::new_empty();
    put_str(
        &mut sched,
        tags::STUDY_INSTANCE_UID,
        VR::UI,
        &study.study_instance_uid,
    );
    put_seq(&mut sched, tags::REFERENCED_STUDY_SEQUENCE, vec![]);
    let order = study.order.clone().unwrap_or_default();
    put_str(
        &mut sched,
        tags::ACCESSION_NUMBER,
        VR::SH,
        order.accession_number.expose(),
    );
    put_str(
        &mut sched,
        tags::REQUESTED_PROCEDURE_ID,
        VR::SH,
        &order.requested_procedure_id,
    );
    put_str(
        &mut sched,
        tags::REQUESTED_PROCEDURE_DESCRIPTION,
        VR::LO,
        &order.requested_procedure_description,
    );
    put_str(
        &mut sched,
        tags::SCHEDULED_PROCEDURE_STEP_ID,
        VR::SH,
        &order.scheduled_procedure_step_id,
    );
    put_str(
        &mut sched,
        tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION,
        VR::LO,
        &order.scheduled_procedure_step_description,
    );
    put_seq(&mut sched, tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, vec![]);
    put_seq(
        &mut o,
        tags::SCHEDULED_STEP_ATTRIBUTES_SEQUENCE,
        vec![sched],
    );
    let p = &study.patient;
    if !p.name.expose().is_ascii() {
        put_str(&mut o, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192");
    }
    put_str(&mut o, tags::PATIENT_NAME, VR::PN, p.name.expose());
    put_str(&mut o, tags::PATIENT_ID, VR::LO, p.id.expose());
    put_str(
        &mut o,
        tags::PATIENT_BIRTH_DATE,
        VR::DA,
        p.birth_date.expose(),
    );
    put_str(&mut o, tags::PATIENT_SEX, VR::CS, &p.sex);
    put_seq(&mut o, tags::REFERENCED_PATIENT_SEQUENCE, vec![]);
    // Performed Procedure Step Information
    put_str(&mut o, tags::PERFORMED_STATION_AE_TITLE, VR::AE, station_ae);
    put_str(
        &mut o,
        tags::PERFORMED_STATION_NAME,
        VR::SH,
        &study.equipment.station_name,
    );
    put_str(&mut o, tags::PERFORMED_LOCATION, VR::SH, "");
    put_str(
        &mut o,
        tags::PERFORMED_PROCEDURE_STEP_START_DATE,
        VR::DA,
        &date,
    );
    put_str(
        &mut o,
        tags::PERFORMED_PROCEDURE_STEP_START_TIME,
        VR::TM,
        &time,
    );
    put_str(&mut o, tags::PERFORMED_PROCEDURE_STEP_ID, VR::SH, step_id);
    put_str(
        &mut o,
        tags::PERFORMED_PROCEDURE_STEP_STATUS,
        VR::CS,
        "IN PROGRESS",
    );
    put_str(
        &mut o,
        tags::PERFORMED_PROCEDURE_STEP_DESCRIPTION,
        VR::LO,
        &order.requested_procedure_description,
    );
    put_str(
        &mut o,
        tags::PERFORMED_PROCEDURE_TYPE_DESCRIPTION,
        VR::LO,
        "",
    );
    put_seq(&mut o, tags::PROCEDURE_CODE_SEQUENCE, vec![]);
    put_str(&mut o, tags::PERFORMED_PROCEDURE_STEP_END_DATE, VR::DA, "");
    put_str(&mut o, tags::PERFORMED_PROCEDURE_STEP_END_TIME, VR::TM, "");
    // Image Acquisition Results
    put_str(&mut o, tags::MODALITY, VR::CS, "CT");
    put_str(&mut o, tags::STUDY_ID, VR::SH, &study.study_id);
    put_seq(&mut o, tags::PERFORMED_PROTOCOL_CODE_SEQUENCE, vec![]);
    put_seq(&mut o, tags::PERFORMED_SERIES_SEQUENCE, vec![]);
    o
}

/// The N-SET attributes for the end of a step, dated at `utc_offset` (the step's, from its
/// N-CREATE).
pub(crate) fn set_attributes(result: &StepResult, utc_offset: UtcOffset) -> InMemDicomObject {
    let (date, time) = utc_offset.now();
    let mut o = InMemDicomObject::new_empty();
    let status = match &result.end {
        StepEnd::Completed => "COMPLETED",
        StepEnd::Discontinued(reason) => {
            put_seq(
                &mut o,
                tags::PERFORMED_PROCEDURE_STEP_DISCONTINUATION_REASON_CODE_SEQUENCE,
                vec![reason.item()],
            );
            "DISCONTINUED"
        }
    };
    put_str(
        &mut o,
        tags::PERFORMED_PROCEDURE_STEP_STATUS,
        VR::CS,
        status,
    );
    put_str(
        &mut o,
        tags::PERFORMED_PROCEDURE_STEP_END_DATE,
        VR::DA,
        &date,
    );
    put_str(
        &mut o,
        tags::PERFORMED_PROCEDURE_STEP_END_TIME,
        VR::TM,
        &time,
    );
    let series = result
        .series
        .iter()
        .map(|s| {
            let mut item = InMemDicomObject::new_empty();
            put_str(&mut item, tags::PERFORMING_PHYSICIAN_NAME, VR::PN, "");
            put_str(&mut item, tags::PROTOCOL_NAME, VR::LO, &s.protocol_name);
            put_str(&mut item, tags::OPERATORS_NAME, VR::PN, "");
            put_str(
                &mut item,
                tags::SERIES_INSTANCE_UID,
                VR::UI,
                &s.series_instance_uid,
            );
            put_str(&mut item, tags::SERIES_DESCRIPTION, VR::LO, &s.description);
            put_str(
                &mut item,
                tags::RETRIEVE_AE_TITLE,
                VR::AE,
                &s.retrieve_ae_title,
            );
            let (images, others): (Vec<&ImageRef>, Vec<&ImageRef>) = s
                .instances
                .iter()
                .partition(|r| !r.sop_class_uid.starts_with("1.2.840.10008.5.1.4.1.1.88."));
            let refs = |v: Vec<&ImageRef>| {
                v.into_iter()
                    .map(|r| sop_reference(&r.sop_class_uid, &r.sop_instance_uid))
                    .collect()
            };
            put_seq(&mut item, tags::REFERENCED_IMAGE_SEQUENCE, refs(images));
            put_seq(
                &mut item,
                tags::REFERENCED_NON_IMAGE_COMPOSITE_SOP_INSTANCE_SEQUENCE,
                refs(others),
            );
            item
        })
        .collect();
    put_seq(&mut o, tags::PERFORMED_SERIES_SEQUENCE, series);
    if let Some(dose) = &result.dose {
        // The Radiation Dose module's per-exposure attributes are retired (the dose SR, which
        // the Performed Series Sequence references, carries the record); the comment stays.
        let comment = dose
            .events
            .iter()
            .map(|e| {
                format!(
                    "{}: CTDIvol {} mGy, DLP {} mGy.cm",
                    e.protocol,
                    format_ds(e.ctdi_vol.0),
                    format_ds(e.dlp.0)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        put_str(
            &mut o,
            tags::COMMENTS_ON_RADIATION_DOSE,
            VR::ST,
            &format!(
                "{comment}; total DLP {} mGy.cm",
                format_ds(dose.total_dlp().0)
            ),
        );
    }
    o
}

/// N-CREATE: announces that the step of `study` has started. Returns the MPPS instance.
pub fn start_step(
    peer: &Peer,
    options: &AssociationOptions,
    study: &StudyContext,
    uids: &UidGenerator,
) -> Result<PerformedStep, MppsError> {
    let sop_instance_uid = uids.generate();
    // PPS ID: SH, at most 16 characters; the last digits of the UID are unique enough per site.
    let id = sop_instance_uid[sop_instance_uid.len() - 16..].to_string();
    let attrs = create_attributes(study, &id, &options.calling_ae_title);
    send(peer, options, "N-CREATE", &attrs, &sop_instance_uid)?;
    Ok(PerformedStep {
        sop_instance_uid,
        id,
        utc_offset: study.utc_offset,
    })
}

/// N-SET: reports the end of `step` (completed or discontinued) with its series and dose.
pub fn end_step(
    peer: &Peer,
    options: &AssociationOptions,
    step: &PerformedStep,
    result: &StepResult,
) -> Result<(), MppsError> {
    send(
        peer,
        options,
        "N-SET",
        &set_attributes(result, step.utc_offset),
        &step.sop_instance_uid,
    )
}
