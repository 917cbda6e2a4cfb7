//! CT Image Storage series from reconstructed volumes (PS3.3 §A.3, CT Image IOD).
//!
//! One single-frame instance per z-slice, HU stored as 16-bit signed integers with Rescale
//! Slope 1 and Intercept 0, geometry from the [`VolumeGrid`]. Grids are in the scanner's frame
//! (`roboct_geometry::conventions`); the [`PatientPosition`] turns it into the DICOM patient
//! frame (LPS), so Image Position (Patient) of slice `k` is the centre of voxel `(0, 0, k)` and
//! Image Orientation (Patient) the first two direction columns, both seen from the patient.

use dicom_core::smallvec::SmallVec;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use ndarray::ArrayView2;
use roboct_core::units::{Mgy, hu_from_mu};
use roboct_geometry::vec3::{Vec3, cross, dot, mat_vec};
use roboct_geometry::{Volume, VolumeGrid, VolumeSlab};

use crate::part10::{EXPLICIT_VR_LE, EncodeError, encode_part10, put_str};
use crate::sr::CtdiPhantom;
use crate::study::{StudyContext, put_ds, put_is, put_seq, put_us};
use crate::uid::UidGenerator;

/// CT Image Storage SOP Class.
pub const CT_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.2";

/// What the voxel values of a volume or slab are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VoxelUnits {
    /// Already Hounsfield units.
    Hu,
    /// Linear attenuation in 1/mm (what reconstruction produces); converted with
    /// [`roboct_core::units::hu_from_mu`] against this water value and air = 0.
    MuPerMm {
        /// mu of water in 1/mm at the effective energy (see `MU_WATER_70KEV_PER_MM`).
        mu_water_per_mm: f64,
    },
}

impl VoxelUnits {
    /// The one place where reconstructed values become HU.
    pub fn to_hu(self, v: f32) -> f64 {
        match self {
            VoxelUnits::Hu => v as f64,
            VoxelUnits::MuPerMm { mu_water_per_mm } => hu_from_mu(v as f64, mu_water_per_mm, 0.0).0,
        }
    }
}

/// Patient Position (0018,5100): how the patient lies on the table, relative to the gantry.
///
/// The scanner's frame (`roboct_geometry::conventions`) has z along the rotation axis, +z
/// pointing the way a head-first patient's head points, +y down towards the table and
/// x = y × z; for a patient lying head first supine (`HFS`) it is the DICOM patient frame
/// (LPS). Every other position is a rotation of it, [`PatientPosition::patient_from_scanner`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum PatientPosition {
    /// Head first, supine.
    #[default]
    Hfs,
    /// Head first, prone.
    Hfp,
    /// Feet first, supine.
    Ffs,
    /// Feet first, prone.
    Ffp,
    /// Head first, decubitus right (lying on the right side).
    Hfdr,
    /// Head first, decubitus left (lying on the left side).
    Hfdl,
    /// Feet first, decubitus right.
    Ffdr,
    /// Feet first, decubitus left.
    Ffdl,
}

impl PatientPosition {
    /// Every position, in the order of PS3.3 C.7.3.1.1.2.
    pub const ALL: [PatientPosition; 8] = [
        PatientPosition::Hfs,
        PatientPosition::Hfp,
        PatientPosition::Ffs,
        PatientPosition::Ffp,
        PatientPosition::Hfdr,
        PatientPosition::Hfdl,
        PatientPosition::Ffdr,
        PatientPosition::Ffdl,
    ];

    /// The DICOM defined term, e.g. `HFS`.
    pub fn code(self) -> &'static str {
        match self {
            PatientPosition::Hfs => "HFS",
            PatientPosition::Hfp => "HFP",
            PatientPosition::Ffs => "FFS",
            PatientPosition::Ffp => "FFP",
            PatientPosition::Hfdr => "HFDR",
            PatientPosition::Hfdl => "HFDL",
            PatientPosition::Ffdr => "FFDR",
            PatientPosition::Ffdl => "FFDL",
        }
    }

    /// The rotation from scanner to patient (LPS) coordinates, row-major: its rows are the
    /// patient's left, posterior and superior directions in scanner coordinates, so
    /// `patient = M scanner` for points and directions alike.
    pub fn patient_from_scanner(self) -> [[f64; 3]; 3] {
        // Head first: superior is +z; feet first: -z. Supine: the back lies on the table,
        // posterior is down (+y); prone: -y. Decubitus right: the right side is down, so left
        // is -y; left: +y. Posterior then follows from P = S x L (LPS is right-handed).
        let (left, superior): (Vec3, Vec3) = match self {
            PatientPosition::Hfs => ([1.0, 0.0, 0.0], [0.0, 0.0, 1.0]),
            PatientPosition::Hfp => ([-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]),
            PatientPosition::Ffs => ([-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]),
            PatientPosition::Ffp => ([1.0, 0.0, 0.0], [0.0, 0.0, -1.0]),
            PatientPosition::Hfdr => ([0.0, -1.0, 0.0], [0.0, 0.0, 1.0]),
            PatientPosition::Hfdl => ([0.0, 1.0, 0.0], [0.0, 0.0, 1.0]),
            PatientPosition::Ffdr => ([0.0, -1.0, 0.0], [0.0, 0.0, -1.0]),
            PatientPosition::Ffdl => ([0.0, 1.0, 0.0], [0.0, 0.0, -1.0]),
        };
        [left, cross(superior, left), superior]
    }
}

impl std::fmt::Display for PatientPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for PatientPosition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let up = s.trim().to_ascii_uppercase();
        Self::ALL
            .into_iter()
            .find(|p| p.code() == up)
            .ok_or_else(|| {
                format!(
                    "patient position `{s}` is not one of {}",
                    Self::ALL.map(|p| p.code()).join(", ")
                )
            })
    }
}

/// Acquisition parameters written in the CT Image module (and reused by the dose report).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CtAcquisition {
    /// Peak tube voltage in kV (KVP).
    pub kvp: f64,
    /// Tube current in mA.
    pub tube_current_ma: f64,
    /// Total exposure time in s.
    pub exposure_time_s: f64,
    /// CTDIvol of the acquisition.
    pub ctdi_vol: Mgy,
    /// Source to isocentre distance in mm.
    pub source_to_isocenter_mm: f64,
    /// Source to detector distance in mm.
    pub source_to_detector_mm: f64,
    /// Reconstruction filter name (Convolution Kernel).
    pub kernel: String,
    /// Protocol Name (0018,1030).
    pub protocol_name: String,
    /// The phantom CTDIvol refers to.
    pub ctdi_phantom: CtdiPhantom,
}

impl Default for CtAcquisition {
    fn default() -> Self {
        Self {
            kvp: 120.0,
            tube_current_ma: 100.0,
            exposure_time_s: 1.0,
            ctdi_vol: Mgy(10.0),
            source_to_isocenter_mm: 600.0,
            source_to_detector_mm: 1000.0,
            kernel: "RAMLAK".into(),
            protocol_name: "ROBOCT CT".into(),
            ctdi_phantom: CtdiPhantom::Body32,
        }
    }
}

/// One display window (VOI LUT module).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    /// Window Center in HU.
    pub center_hu: f64,
    /// Window Width in HU.
    pub width_hu: f64,
    /// Explanation, e.g. `SOFT TISSUE`.
    pub name: String,
}

/// The series-level description of a CT series.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CtSeriesInfo {
    /// Series Instance UID.
    pub series_instance_uid: String,
    /// Series Number.
    pub series_number: i64,
    /// Series Description.
    pub description: String,
    /// Frame of Reference UID: shared by every series made in one patient position.
    pub frame_of_reference_uid: String,
    /// Patient Position (0018,5100): also decides the image geometry in the patient frame.
    pub patient_position: PatientPosition,
    /// Acquisition parameters.
    pub acquisition: CtAcquisition,
    /// Display windows, the first is the default.
    pub windows: Vec<Window>,
    /// Laterality (0020,0060): `R`, `L` or empty. Written (empty when unknown) whenever the
    /// study's body part is a paired structure or is not known, as the General Series module
    /// requires.
    #[serde(default)]
    pub laterality: String,
    /// The frame the volume's grid is in: the scanner's (turned into the patient's by
    /// [`CtSeriesInfo::patient_position`]) or already the patient's (a volume read from DICOM
    /// files).
    #[serde(default)]
    pub volume_frame: VolumeFrame,
    /// Whether the images were derived from other images (a volume imported from another
    /// series, processed): Image Type `DERIVED\SECONDARY\AXIAL` instead of
    /// `ORIGINAL\PRIMARY\AXIAL`.
    #[serde(default)]
    pub derived: bool,
}

/// The frame a volume handed to [`CtSeriesWriter`] is in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeFrame {
    /// The scanner's frame (`roboct_geometry::conventions`): what reconstruction produces.
    #[default]
    Scanner,
    /// The DICOM patient frame (LPS): what [`crate::reader`] produces.
    Patient,
}

impl CtSeriesInfo {
    /// A series with new UIDs, number 1, HFS, soft-tissue and bone windows.
    pub fn new(uids: &UidGenerator) -> Self {
        Self {
            series_instance_uid: uids.generate(),
            series_number: 1,
            description: "ROBOCT AXIAL".into(),
            frame_of_reference_uid: uids.generate(),
            patient_position: PatientPosition::Hfs,
            acquisition: CtAcquisition::default(),
            windows: vec![
                Window {
                    center_hu: 40.0,
                    width_hu: 400.0,
                    name: "SOFT TISSUE".into(),
                },
                Window {
                    center_hu: 400.0,
                    width_hu: 1800.0,
                    name: "BONE".into(),
                },
            ],
            laterality: String::new(),
            volume_frame: VolumeFrame::Scanner,
            derived: false,
        }
    }
}

/// An encoded instance ready for the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// SOP Class UID.
    pub sop_class_uid: String,
    /// SOP Instance UID.
    pub sop_instance_uid: String,
    /// Series Instance UID.
    pub series_instance_uid: String,
    /// The whole Part 10 file.
    pub bytes: Vec<u8>,
}

/// Why a CT instance could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CtError {
    /// A voxel value was NaN or infinite.
    #[error(
        "slice {slice} holds a non-finite value {value} at (x {x}, y {y}): refusing to store it as HU"
    )]
    NonFinite {
        /// Slice index in the volume.
        slice: usize,
        /// Column.
        x: usize,
        /// Row.
        y: usize,
        /// The value.
        value: f32,
    },
    /// The slice is larger than DICOM rows/columns allow.
    #[error("slice of {nx} x {ny} pixels exceeds 65535 rows or columns")]
    TooLarge {
        /// Columns.
        nx: usize,
        /// Rows.
        ny: usize,
    },
    /// The slab's grid is inconsistent.
    #[error("slab geometry: {0}")]
    Geometry(String),
    /// Encoding failed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Turns volumes, slabs or single slices into CT Image Storage instances of one series.
#[derive(Clone, Debug)]
pub struct CtSeriesWriter {
    study: StudyContext,
    series: CtSeriesInfo,
    uids: UidGenerator,
    transfer_syntax: String,
    content_date: String,
    content_time: String,
}

impl CtSeriesWriter {
    /// A writer for one series of `study`.
    pub fn new(study: StudyContext, series: CtSeriesInfo, uids: UidGenerator) -> Self {
        let (content_date, content_time) = study.now();
        Self {
            study,
            series,
            uids,
            transfer_syntax: EXPLICIT_VR_LE.to_string(),
            content_date,
            content_time,
        }
    }

    /// Writes files in `ts_uid` instead of explicit VR little endian (e.g. deflated).
    pub fn transfer_syntax(mut self, ts_uid: &str) -> Self {
        self.transfer_syntax = ts_uid.to_string();
        self
    }

    /// The series description.
    pub fn series(&self) -> &CtSeriesInfo {
        &self.series
    }

    /// The study.
    pub fn study(&self) -> &StudyContext {
        &self.study
    }

    /// Every slice of `volume` (values in `units`), in z order.
    pub fn volume(&self, volume: &Volume, units: VoxelUnits) -> Result<Vec<Instance>, CtError> {
        let data = volume.data();
        (0..volume.grid().size()[2])
            .map(|k| {
                self.slice(
                    volume.grid(),
                    k,
                    data.index_axis(ndarray::Axis(0), k),
                    units,
                )
            })
            .collect()
    }

    /// Every slice of a reconstruction slab, in z order.
    pub fn slab(&self, slab: &VolumeSlab, units: VoxelUnits) -> Result<Vec<Instance>, CtError> {
        Self::check_slab(slab)?;
        (0..slab.data.dim().0)
            .map(|k| self.slab_slice(slab, k, units))
            .collect()
    }

    /// Checks that a slab fits the volume grid it claims to belong to.
    pub fn check_slab(slab: &VolumeSlab) -> Result<(), CtError> {
        let (nz, ny, nx) = slab.data.dim();
        let [gx, gy, gz] = slab.volume_grid.size();
        if nx != gx || ny != gy || slab.z_start + nz > gz {
            return Err(CtError::Geometry(format!(
                "slab at z {} of {nz} x {ny} x {nx} does not fit a volume of {gz} x {gy} x {gx}",
                slab.z_start
            )));
        }
        Ok(())
    }

    /// Slice `k` (0-based within the slab) of a checked slab.
    pub fn slab_slice(
        &self,
        slab: &VolumeSlab,
        k: usize,
        units: VoxelUnits,
    ) -> Result<Instance, CtError> {
        self.slice(&slab.volume_grid, slab.z_start + k, slab.slice(k), units)
    }

    /// Slice `k` of a volume on `grid`, with values `[y][x]`.
    pub fn slice(
        &self,
        grid: &VolumeGrid,
        k: usize,
        values: ArrayView2<'_, f32>,
        units: VoxelUnits,
    ) -> Result<Instance, CtError> {
        let (ny, nx) = values.dim();
        if nx > 65535 || ny > 65535 {
            return Err(CtError::TooLarge { nx, ny });
        }
        let mut pixels: Vec<i16> = Vec::with_capacity(nx * ny);
        for ((y, x), &v) in values.indexed_iter() {
            if !v.is_finite() {
                return Err(CtError::NonFinite {
                    slice: k,
                    x,
                    y,
                    value: v,
                });
            }
            let hu = units.to_hu(v).round();
            pixels.push(hu.clamp(i16::MIN as f64, i16::MAX as f64) as i16);
        }
        let sop_instance_uid = self.uids.generate();
        let o = self.build(grid, k, nx, ny, pixels, &sop_instance_uid);
        let bytes = encode_part10(&o, &self.transfer_syntax)?;
        Ok(Instance {
            sop_class_uid: CT_IMAGE_STORAGE.to_string(),
            sop_instance_uid,
            series_instance_uid: self.series.series_instance_uid.clone(),
            bytes,
        })
    }

    fn build(
        &self,
        grid: &VolumeGrid,
        k: usize,
        nx: usize,
        ny: usize,
        pixels: Vec<i16>,
        sop_instance_uid: &str,
    ) -> InMemDicomObject {
        let s = &self.series;
        let a = &s.acquisition;
        let mut o = InMemDicomObject::new_empty();
        // SOP Common
        put_str(&mut o, tags::SOP_CLASS_UID, VR::UI, CT_IMAGE_STORAGE);
        put_str(&mut o, tags::SOP_INSTANCE_UID, VR::UI, sop_instance_uid);
        put_str(
            &mut o,
            tags::INSTANCE_CREATION_DATE,
            VR::DA,
            &self.content_date,
        );
        put_str(
            &mut o,
            tags::INSTANCE_CREATION_TIME,
            VR::TM,
            &self.content_time,
        );
        // Patient, General Study, General Equipment
        self.study.write_common(&mut o);
        // General Series
        put_str(&mut o, tags::MODALITY, VR::CS, "CT");
        put_str(
            &mut o,
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            &s.series_instance_uid,
        );
        put_is(&mut o, tags::SERIES_NUMBER, s.series_number);
        put_str(&mut o, tags::SERIES_DATE, VR::DA, &self.study.study_date);
        put_str(&mut o, tags::SERIES_TIME, VR::TM, &self.study.study_time);
        if !s.description.is_empty() {
            put_str(&mut o, tags::SERIES_DESCRIPTION, VR::LO, &s.description);
        }
        put_str(&mut o, tags::PROTOCOL_NAME, VR::LO, &a.protocol_name);
        put_str(
            &mut o,
            tags::PATIENT_POSITION,
            VR::CS,
            s.patient_position.code(),
        );
        if !self.study.body_part.is_empty() {
            put_str(
                &mut o,
                tags::BODY_PART_EXAMINED,
                VR::CS,
                &self.study.body_part,
            );
        }
        if !s.laterality.is_empty() || crate::study::laterality_required(&self.study.body_part) {
            put_str(&mut o, tags::LATERALITY, VR::CS, &s.laterality);
        }
        self.study.write_request_attributes(&mut o);
        self.study.write_mpps_reference(&mut o, false);
        // Frame of Reference
        put_str(
            &mut o,
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            &s.frame_of_reference_uid,
        );
        put_str(&mut o, tags::POSITION_REFERENCE_INDICATOR, VR::LO, "");
        // General Acquisition / General Image
        put_is(&mut o, tags::ACQUISITION_NUMBER, 1);
        put_str(
            &mut o,
            tags::ACQUISITION_DATE,
            VR::DA,
            &self.study.study_date,
        );
        put_str(
            &mut o,
            tags::ACQUISITION_TIME,
            VR::TM,
            &self.study.study_time,
        );
        put_is(&mut o, tags::INSTANCE_NUMBER, k as i64 + 1);
        put_str(&mut o, tags::CONTENT_DATE, VR::DA, &self.content_date);
        put_str(&mut o, tags::CONTENT_TIME, VR::TM, &self.content_time);
        let image_type = if s.derived {
            "DERIVED\\SECONDARY\\AXIAL"
        } else {
            "ORIGINAL\\PRIMARY\\AXIAL"
        };
        put_str(&mut o, tags::IMAGE_TYPE, VR::CS, image_type);
        put_str(&mut o, tags::BURNED_IN_ANNOTATION, VR::CS, "NO");
        // Image Plane: row direction = +x index (columns), column direction = +y index (rows),
        // turned from the scanner's frame into the patient's.
        let m = match s.volume_frame {
            VolumeFrame::Scanner => s.patient_position.patient_from_scanner(),
            VolumeFrame::Patient => [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        };
        let d = grid.direction();
        let row_dir = mat_vec(m, [d[0][0], d[1][0], d[2][0]]);
        let col_dir = mat_vec(m, [d[0][1], d[1][1], d[2][1]]);
        let normal = cross(row_dir, col_dir);
        let position = mat_vec(m, grid.world_from_index([0.0, 0.0, k as f64]));
        let spacing = grid.spacing_mm();
        put_ds(&mut o, tags::IMAGE_POSITION_PATIENT, &position);
        let iop = [row_dir, col_dir].concat();
        put_ds(&mut o, tags::IMAGE_ORIENTATION_PATIENT, &iop);
        // Pixel Spacing is (between rows, between columns) = (y spacing, x spacing).
        put_ds(&mut o, tags::PIXEL_SPACING, &[spacing[1], spacing[0]]);
        put_ds(&mut o, tags::SLICE_THICKNESS, &[spacing[2]]);
        put_ds(&mut o, tags::SPACING_BETWEEN_SLICES, &[spacing[2]]);
        put_ds(&mut o, tags::SLICE_LOCATION, &[dot(position, normal)]);
        // CT Image
        put_ds(&mut o, tags::KVP, &[a.kvp]);
        put_ds(
            &mut o,
            tags::DATA_COLLECTION_DIAMETER,
            &[spacing[0] * grid.size()[0] as f64],
        );
        put_ds(
            &mut o,
            tags::RECONSTRUCTION_DIAMETER,
            &[spacing[0] * grid.size()[0] as f64],
        );
        put_ds(
            &mut o,
            tags::DISTANCE_SOURCE_TO_DETECTOR,
            &[a.source_to_detector_mm],
        );
        put_ds(
            &mut o,
            tags::DISTANCE_SOURCE_TO_PATIENT,
            &[a.source_to_isocenter_mm],
        );
        put_ds(&mut o, tags::GANTRY_DETECTOR_TILT, &[0.0]);
        put_is(
            &mut o,
            tags::EXPOSURE_TIME,
            (a.exposure_time_s * 1000.0).round() as i64,
        );
        put_is(
            &mut o,
            tags::X_RAY_TUBE_CURRENT,
            a.tube_current_ma.round() as i64,
        );
        put_is(
            &mut o,
            tags::EXPOSURE,
            (a.tube_current_ma * a.exposure_time_s).round() as i64,
        );
        put_str(&mut o, tags::CONVOLUTION_KERNEL, VR::SH, &a.kernel);
        o.put(DataElement::new(
            tags::CTD_IVOL,
            VR::FD,
            PrimitiveValue::from(a.ctdi_vol.0),
        ));
        put_seq(
            &mut o,
            tags::CTDI_PHANTOM_TYPE_CODE_SEQUENCE,
            vec![a.ctdi_phantom.code().item()],
        );
        put_str(&mut o, tags::RESCALE_INTERCEPT, VR::DS, "0");
        put_str(&mut o, tags::RESCALE_SLOPE, VR::DS, "1");
        put_str(&mut o, tags::RESCALE_TYPE, VR::LO, "HU");
        // VOI LUT
        if !s.windows.is_empty() {
            let centers: Vec<f64> = s.windows.iter().map(|w| w.center_hu).collect();
            let widths: Vec<f64> = s.windows.iter().map(|w| w.width_hu).collect();
            put_ds(&mut o, tags::WINDOW_CENTER, &centers);
            put_ds(&mut o, tags::WINDOW_WIDTH, &widths);
            let names = s
                .windows
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>()
                .join("\\");
            put_str(
                &mut o,
                tags::WINDOW_CENTER_WIDTH_EXPLANATION,
                VR::LO,
                &names,
            );
        }
        // Image Pixel
        put_us(&mut o, tags::SAMPLES_PER_PIXEL, 1);
        put_str(
            &mut o,
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            "MONOCHROME2",
        );
        put_us(&mut o, tags::ROWS, ny as u16);
        put_us(&mut o, tags::COLUMNS, nx as u16);
        put_us(&mut o, tags::BITS_ALLOCATED, 16);
        put_us(&mut o, tags::BITS_STORED, 16);
        put_us(&mut o, tags::HIGH_BIT, 15);
        put_us(&mut o, tags::PIXEL_REPRESENTATION, 1);
        o.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::I16(SmallVec::from_vec(pixels)),
        ));
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(m: [[f64; 3]; 3]) -> f64 {
        dot(m[0], cross(m[1], m[2]))
    }

    #[test]
    fn positions_are_rotations_that_put_each_side_where_it_lies() {
        // Truth from the definitions, not from the matrix code: the table is below the
        // patient (+y in the scanner), the gantry's far side is +z.
        let down = [0.0, 1.0, 0.0];
        let into_gantry = [0.0, 0.0, 1.0];
        // (position, the patient direction that points down, the one that points into the
        // gantry), in LPS: posterior (0,1,0), anterior (0,-1,0), right (-1,0,0), left (1,0,0),
        // superior (0,0,1), inferior (0,0,-1).
        let cases = [
            ("HFS", [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]),
            ("HFP", [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]),
            ("FFS", [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]),
            ("FFP", [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]),
            ("HFDR", [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]),
            ("HFDL", [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]),
            ("FFDR", [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]),
            ("FFDL", [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]),
        ];
        for (code, down_is, gantry_is) in cases {
            let p: PatientPosition = code.parse().unwrap();
            assert_eq!(p.code(), code);
            let m = p.patient_from_scanner();
            assert!((det(m) - 1.0).abs() < 1e-12, "{code}: not a rotation");
            assert_eq!(mat_vec(m, down), down_is, "{code}: what lies on the table");
            assert_eq!(
                mat_vec(m, into_gantry),
                gantry_is,
                "{code}: what enters first"
            );
        }
        assert_eq!(
            PatientPosition::Hfs.patient_from_scanner(),
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            "HFS: the scanner frame is LPS"
        );
        let e = "HFX".parse::<PatientPosition>().unwrap_err();
        assert!(e.contains("HFX") && e.contains("FFDL"), "{e}");
        assert_eq!("ffs".parse::<PatientPosition>(), Ok(PatientPosition::Ffs));
    }
}
