//! What every object of one scan shares: patient, study, order, equipment and the clock.
//!
//! The same [`StudyContext`] feeds the CT series, the dose SR, the findings SR, the key-object
//! selection and the MPPS, so every object of a scan carries identical patient and study
//! attributes, as IHE Scheduled Workflow requires of a modality.

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use roboct_core::Phi;

use crate::part10::put_str;
use crate::uid::UidGenerator;

/// The patient as the order gives it. Every field is patient-identifying except the sex.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Patient {
    /// Patient's Name (0010,0010), DICOM PN (`FAMILY^GIVEN`).
    pub name: Phi<String>,
    /// Patient ID (0010,0020).
    pub id: Phi<String>,
    /// Patient's Birth Date (0010,0030), `YYYYMMDD` or empty.
    pub birth_date: Phi<String>,
    /// Patient's Sex (0010,0040): `M`, `F`, `O` or empty.
    pub sex: String,
}

/// The order (requested procedure and scheduled step) a scan fulfils, from the worklist.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrderRef {
    /// Accession Number (0008,0050).
    pub accession_number: Phi<String>,
    /// Requested Procedure ID (0040,1001).
    pub requested_procedure_id: String,
    /// Requested Procedure Description (0032,1060).
    pub requested_procedure_description: String,
    /// Scheduled Procedure Step ID (0040,0009).
    pub scheduled_procedure_step_id: String,
    /// Scheduled Procedure Step Description (0040,0007).
    pub scheduled_procedure_step_description: String,
}

/// The device: written in General Equipment and Enhanced General Equipment.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Equipment {
    /// Manufacturer (0008,0070).
    pub manufacturer: String,
    /// Manufacturer's Model Name (0008,1090).
    pub model_name: String,
    /// Device Serial Number (0018,1000).
    pub serial_number: String,
    /// Software Versions (0018,1020).
    pub software_version: String,
    /// Station Name (0008,1010).
    pub station_name: String,
    /// Institution Name (0008,0080), may be empty.
    pub institution_name: String,
}

impl Default for Equipment {
    fn default() -> Self {
        Self {
            manufacturer: "roboct".into(),
            model_name: "roboct mobile CT".into(),
            serial_number: "SIM-0001".into(),
            software_version: env!("CARGO_PKG_VERSION").into(),
            station_name: "ROBOCT".into(),
            institution_name: String::new(),
        }
    }
}

/// Everything the objects of one study share.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StudyContext {
    /// The patient.
    pub patient: Patient,
    /// Study Instance UID (0020,000D): from the order, or new for an unscheduled scan.
    pub study_instance_uid: String,
    /// Study ID (0020,0010), at most 16 characters.
    pub study_id: String,
    /// Study Date (0008,0020) `YYYYMMDD`, local to `utc_offset`.
    pub study_date: String,
    /// Study Time (0008,0030) `HHMMSS`, local to `utc_offset`.
    pub study_time: String,
    /// The offset from UTC of every date and time in the study's objects, written as
    /// Timezone Offset From UTC (0008,0201): the scanner's local offset when the study
    /// began. One offset for the whole study keeps its times consistent across a daylight
    /// saving change during the scan.
    #[serde(default)]
    pub utc_offset: UtcOffset,
    /// Study Description (0008,1030).
    pub study_description: String,
    /// Referring Physician's Name (0008,0090).
    pub referring_physician_name: Phi<String>,
    /// The order, when the scan came from the worklist.
    pub order: Option<OrderRef>,
    /// The MPPS SOP Instance UID, when one was created (Referenced Performed Procedure Step).
    pub mpps_instance_uid: Option<String>,
    /// The device.
    pub equipment: Equipment,
    /// Body Part Examined (0018,0015), e.g. `HEAD`, `CHEST`, `ABDOMEN`.
    pub body_part: String,
}

impl StudyContext {
    /// A study with no order (an unscheduled scan or an export): a new Study Instance UID and
    /// an empty patient, dated now.
    pub fn unscheduled(uids: &UidGenerator) -> Self {
        let utc_offset = UtcOffset::local_now();
        let (date, time) = utc_offset.now();
        Self {
            patient: Patient::default(),
            study_instance_uid: uids.generate(),
            study_id: "1".into(),
            study_date: date,
            study_time: time,
            utc_offset,
            study_description: String::new(),
            referring_physician_name: Phi::default(),
            order: None,
            mpps_instance_uid: None,
            equipment: Equipment::default(),
            body_part: String::new(),
        }
    }

    /// The study a series read from files belongs to ([`crate::reader::SeriesContext`]): same
    /// patient, Study Instance UID, date, description and accession number, so a series
    /// derived from it joins that study. A context without a Study Instance UID (files that
    /// lack one) gets a new one.
    pub fn from_series(context: &crate::reader::SeriesContext, uids: &UidGenerator) -> Self {
        let mut study = Self::unscheduled(uids);
        let c = context;
        study.patient = c.patient.clone();
        if !c.study_instance_uid.is_empty() {
            study.study_instance_uid = c.study_instance_uid.clone();
            study.study_date = c.study_date.clone();
            study.study_time = c.study_time.clone();
        }
        if !c.study_id.is_empty() {
            study.study_id = c.study_id.chars().take(16).collect();
        }
        study.study_description = c.study_description.clone();
        study.referring_physician_name = c.referring_physician_name.clone();
        if !c.accession_number.expose().is_empty() {
            study.order = Some(OrderRef {
                accession_number: c.accession_number.clone(),
                ..OrderRef::default()
            });
        }
        study.body_part = c.body_part.clone();
        study
    }

    /// Now, as date and time at the study's UTC offset.
    pub fn now(&self) -> (String, String) {
        self.utc_offset.now()
    }

    /// Writes the Patient, General Study, Patient Study and General Equipment modules, the
    /// Specific Character Set and Timezone Offset From UTC.
    pub(crate) fn write_common(&self, o: &mut InMemDicomObject) {
        let p = &self.patient;
        let texts = [
            p.name.expose().as_str(),
            p.id.expose(),
            &self.study_description,
            self.referring_physician_name.expose(),
            &self.equipment.institution_name,
        ];
        if texts.iter().any(|t| !t.is_ascii()) {
            put_str(o, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192");
        }
        put_str(
            o,
            tags::TIMEZONE_OFFSET_FROM_UTC,
            VR::SH,
            &self.utc_offset.to_string(),
        );
        put_str(o, tags::PATIENT_NAME, VR::PN, p.name.expose());
        put_str(o, tags::PATIENT_ID, VR::LO, p.id.expose());
        put_str(o, tags::PATIENT_BIRTH_DATE, VR::DA, p.birth_date.expose());
        put_str(o, tags::PATIENT_SEX, VR::CS, &p.sex);
        put_str(
            o,
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            &self.study_instance_uid,
        );
        put_str(o, tags::STUDY_DATE, VR::DA, &self.study_date);
        put_str(o, tags::STUDY_TIME, VR::TM, &self.study_time);
        put_str(
            o,
            tags::REFERRING_PHYSICIAN_NAME,
            VR::PN,
            self.referring_physician_name.expose(),
        );
        put_str(o, tags::STUDY_ID, VR::SH, &self.study_id);
        let accession = self
            .order
            .as_ref()
            .map(|r| r.accession_number.expose().as_str())
            .unwrap_or("");
        put_str(o, tags::ACCESSION_NUMBER, VR::SH, accession);
        if !self.study_description.is_empty() {
            put_str(o, tags::STUDY_DESCRIPTION, VR::LO, &self.study_description);
        }
        let e = &self.equipment;
        put_str(o, tags::MANUFACTURER, VR::LO, &e.manufacturer);
        put_str(o, tags::MANUFACTURER_MODEL_NAME, VR::LO, &e.model_name);
        put_str(o, tags::DEVICE_SERIAL_NUMBER, VR::LO, &e.serial_number);
        put_str(o, tags::SOFTWARE_VERSIONS, VR::LO, &e.software_version);
        put_str(o, tags::STATION_NAME, VR::SH, &e.station_name);
        if !e.institution_name.is_empty() {
            put_str(o, tags::INSTITUTION_NAME, VR::LO, &e.institution_name);
        }
    }

    /// Request Attributes Sequence (0040,0275) for image series, when there is an order.
    pub(crate) fn write_request_attributes(&self, o: &mut InMemDicomObject) {
        // An order known only by its accession number (a study read from files) has no
        // request to describe: the accession number is in General Study.
        if let Some(r) = &self.order
            && !(r.requested_procedure_id.is_empty() && r.scheduled_procedure_step_id.is_empty())
        {
            let mut item = InMemDicomObject::new_empty();
            put_str(
                &mut item,
                tags::ACCESSION_NUMBER,
                VR::SH,
                r.accession_number.expose(),
            );
            put_str(
                &mut item,
                tags::REQUESTED_PROCEDURE_ID,
                VR::SH,
                &r.requested_procedure_id,
            );
            put_str(
                &mut item,
                tags::REQUESTED_PROCEDURE_DESCRIPTION,
                VR::LO,
                &r.requested_procedure_description,
            );
            put_str(
                &mut item,
                tags::SCHEDULED_PROCEDURE_STEP_ID,
                VR::SH,
                &r.scheduled_procedure_step_id,
            );
            put_str(
                &mut item,
                tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION,
                VR::LO,
                &r.scheduled_procedure_step_description,
            );
            put_seq(o, tags::REQUEST_ATTRIBUTES_SEQUENCE, vec![item]);
        }
    }

    /// Referenced Performed Procedure Step Sequence (0008,1111): the MPPS, or empty (Type 2
    /// in SR and KO series, Type 3 in image series where we write it only when known).
    pub(crate) fn write_mpps_reference(&self, o: &mut InMemDicomObject, always: bool) {
        match &self.mpps_instance_uid {
            Some(uid) => {
                let item = sop_reference(crate::mpps::MPPS_SOP_CLASS, uid);
                put_seq(
                    o,
                    tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
                    vec![item],
                );
            }
            None if always => put_seq(
                o,
                tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
                vec![],
            ),
            None => {}
        }
    }
}

/// An item of a SOP Instance Reference sequence: (Referenced SOP Class UID, Referenced SOP
/// Instance UID).
pub(crate) fn sop_reference(sop_class_uid: &str, sop_instance_uid: &str) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    put_str(
        &mut item,
        tags::REFERENCED_SOP_CLASS_UID,
        VR::UI,
        sop_class_uid,
    );
    put_str(
        &mut item,
        tags::REFERENCED_SOP_INSTANCE_UID,
        VR::UI,
        sop_instance_uid,
    );
    item
}

/// Puts a sequence attribute.
pub(crate) fn put_seq(o: &mut InMemDicomObject, tag: Tag, items: Vec<InMemDicomObject>) {
    o.put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
}

/// Puts a US attribute.
pub(crate) fn put_us(o: &mut InMemDicomObject, tag: Tag, v: u16) {
    o.put(DataElement::new(tag, VR::US, PrimitiveValue::from(v)));
}

/// Puts a DS attribute with one or more values, formatted to fit 16 characters each.
pub(crate) fn put_ds(o: &mut InMemDicomObject, tag: Tag, values: &[f64]) {
    let s = values
        .iter()
        .map(|&v| format_ds(v))
        .collect::<Vec<_>>()
        .join("\\");
    put_str(o, tag, VR::DS, &s);
}

/// Body parts (Body Part Examined defined terms, PS3.16 CID 4031) that are not paired
/// structures: for these a series needs no Laterality. Every other value, and an unknown
/// (empty) body part, does (General Series module, Laterality Type 2C).
const UNPAIRED_BODY_PARTS: &[&str] = &[
    "HEAD",
    "BRAIN",
    "SKULL",
    "FACE",
    "NECK",
    "CHEST",
    "THORAX",
    "HEART",
    "ABDOMEN",
    "PELVIS",
    "SPINE",
    "CSPINE",
    "TSPINE",
    "LSPINE",
    "SSPINE",
    "COCCYX",
    "ABDOMENPELVIS",
    "CHESTABDOMEN",
    "CHESTABDPELVIS",
    "HEADNECK",
    "NECKCHEST",
    "WHOLEBODY",
    "AORTA",
    "LIVER",
    "PANCREAS",
    "SPLEEN",
    "STOMACH",
    "BLADDER",
    "PROSTATE",
    "UTERUS",
    "SINUS",
    "LARYNX",
    "TRACHEA",
];

/// Whether a series of this Body Part Examined must carry Laterality (empty when unknown):
/// when the part is unknown or may be paired.
pub fn laterality_required(body_part: &str) -> bool {
    !UNPAIRED_BODY_PARTS.contains(&body_part)
}

/// Body Part Examined as DICOM writes it (a Code String: at most 16 upper-case letters,
/// digits, spaces or underscores), from what a user typed (`head` -> `HEAD`).
///
/// # Errors
/// [`BodyPartError`] when the text is not a code string.
pub fn body_part_code(text: &str) -> Result<String, BodyPartError> {
    let code = text.trim().to_ascii_uppercase();
    if code.is_empty()
        || code.len() > 16
        || !code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == ' ' || c == '_')
    {
        return Err(BodyPartError::NotCodeString {
            text: text.to_string(),
        });
    }
    Ok(code)
}

/// A Body Part Examined that DICOM cannot write.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyPartError {
    /// Not a code string.
    #[error(
        "body part {text:?} is not a DICOM code string: expected 1 to 16 letters, digits, spaces or underscores, such as HEAD, CHEST, ABDOMEN or KNEE"
    )]
    NotCodeString {
        /// What was given.
        text: String,
    },
}

impl roboct_core::Recover for BodyPartError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            BodyPartError::NotCodeString { .. } => roboct_core::Recovery::WaitForOperator,
        }
    }
}

/// Puts an IS attribute.
pub(crate) fn put_is(o: &mut InMemDicomObject, tag: Tag, v: i64) {
    put_str(o, tag, VR::IS, &v.to_string());
}

/// A decimal string of at most 16 characters (PS3.5 §6.2 DS) with as many digits as fit.
pub fn format_ds(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    for precision in (0..=10).rev() {
        let s = format!("{v:.precision$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s.len() <= 16 {
            return if s == "-0" { "0".into() } else { s };
        }
    }
    let s = format!("{v:.6e}");
    if s.len() <= 16 { s } else { format!("{v:.3e}") }
}

/// An offset from UTC in minutes (east positive), as DICOM writes it: `+hhmm` / `-hhmm`
/// (Timezone Offset From UTC (0008,0201)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UtcOffset(pub i32);

impl UtcOffset {
    /// UTC itself.
    pub const UTC: UtcOffset = UtcOffset(0);

    /// The scanner's local offset now (the `TZ` variable, else `/etc/localtime`).
    pub fn local_now() -> Self {
        let seconds = chrono::Local::now().offset().local_minus_utc();
        UtcOffset((seconds as f64 / 60.0).round() as i32)
    }

    /// Now, as `YYYYMMDD` and `HHMMSS` at this offset.
    pub fn now(self) -> (String, String) {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        date_time_at(secs, self)
    }
}

impl std::fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let m = self.0.unsigned_abs();
        write!(f, "{sign}{:02}{:02}", m / 60, m % 60)
    }
}

/// Today's date (`YYYYMMDD`) where the scanner is: the date the RIS schedules by.
pub fn today_local() -> String {
    UtcOffset::local_now().now().0
}

/// `YYYYMMDD`, `HHMMSS` of a Unix time seen at `offset`, by Howard Hinnant's
/// civil-from-days algorithm.
pub fn date_time_at(unix_secs: i64, offset: UtcOffset) -> (String, String) {
    let secs = unix_secs + offset.0 as i64 * 60;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    (
        format!("{y:04}{mo:02}{d:02}"),
        format!("{h:02}{m:02}{s:02}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ds_fits_16_chars() {
        for v in [
            0.0,
            1.0,
            -0.5,
            0.976_562_5,
            -249.511_718_75,
            123_456_789.123_456_78,
            1e-12,
            -1e20,
            1.0 / 3.0,
        ] {
            let s = format_ds(v);
            assert!(s.len() <= 16, "{v} -> {s}");
            let back: f64 = s.parse().unwrap();
            assert!((back - v).abs() <= 1e-6 * v.abs().max(1e-6), "{v} -> {s}");
        }
        assert_eq!(format_ds(0.5), "0.5");
        assert_eq!(format_ds(-2.0), "-2");
    }

    #[test]
    fn civil_dates_at_offsets() {
        let at = |s, o| date_time_at(s, UtcOffset(o));
        assert_eq!(at(0, 0), ("19700101".into(), "000000".into()));
        assert_eq!(
            at(1_709_164_800 + 3_723, 0),
            ("20240229".into(), "010203".into())
        );
        // 2024-02-29 23:30 UTC is already March in Berlin and still February in New York.
        let t = 1_709_164_800 + 23 * 3600 + 1800;
        assert_eq!(at(t, 60), ("20240301".into(), "003000".into()));
        assert_eq!(at(t, -300), ("20240229".into(), "183000".into()));
        assert_eq!(at(t, 330), ("20240301".into(), "050000".into()));
        // Before the epoch, the other way round.
        assert_eq!(at(0, -60), ("19691231".into(), "230000".into()));
        assert_eq!(UtcOffset(330).to_string(), "+0530");
        assert_eq!(UtcOffset(-600).to_string(), "-1000");
        assert_eq!(UtcOffset::UTC.to_string(), "+0000");
    }

    #[test]
    fn local_offset_follows_tz() {
        // Setting TZ inside a multi-threaded test binary is unsound (`std::env::set_var` is
        // unsafe), so the check runs in a child process started with TZ set. A POSIX TZ
        // string needs no time-zone database.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "study::tests::print_local_offset",
                "--nocapture",
                "--ignored",
            ])
            .env("TZ", "<+0545>-5:45")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("offset +0545"), "{text}");
    }

    #[test]
    #[ignore = "helper: run by local_offset_follows_tz with TZ set"]
    fn print_local_offset() {
        println!("offset {}", UtcOffset::local_now());
    }
}
