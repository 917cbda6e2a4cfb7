//! Modality Worklist C-FIND SCU (PS3.4 Annex K): the orders for this scanner.

use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use roboct_core::{Phi, Recover, Recovery};

use crate::dimse::{Association, AssociationOptions, NetError, Peer, ProposedContext};
use crate::part10::{
    EXPLICIT_VR_LE, IMPLICIT_VR_LE, decode_dataset, encode_dataset, put_str, text,
};
use crate::study::{OrderRef, Patient, StudyContext, put_seq};
use crate::uid::is_valid_uid;

/// Modality Worklist Information Model - FIND.
pub const MWL_FIND: &str = "1.2.840.10008.5.1.4.31";

/// What to ask the worklist for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorklistQuery {
    /// Scheduled Station AE Title; `None` matches any station.
    pub station_ae_title: Option<String>,
    /// Scheduled Procedure Step Start Date: `YYYYMMDD` or a range `YYYYMMDD-YYYYMMDD`;
    /// `None` matches any date.
    pub date: Option<String>,
    /// Modality, normally `CT`.
    pub modality: String,
}

impl Default for WorklistQuery {
    fn default() -> Self {
        Self {
            station_ae_title: None,
            date: None,
            modality: "CT".into(),
        }
    }
}

/// The scheduled procedure step of an order.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScheduledStep {
    /// Scheduled Procedure Step ID.
    pub id: String,
    /// Scheduled Procedure Step Description.
    pub description: String,
    /// Start date `YYYYMMDD`.
    pub start_date: String,
    /// Start time `HHMMSS[.ffffff]`, may be empty.
    pub start_time: String,
    /// Modality.
    pub modality: String,
    /// Scheduled Station AE Title.
    pub station_ae_title: String,
}

/// One order from the worklist.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorklistItem {
    /// The patient.
    pub patient: Patient,
    /// Study Instance UID the modality must use.
    pub study_instance_uid: String,
    /// Accession number, requested procedure and scheduled step IDs.
    pub order: OrderRef,
    /// Referring Physician's Name.
    pub referring_physician_name: Phi<String>,
    /// Current Patient Location (0038,0300): where the robot drives to (ward and bed).
    pub current_patient_location: String,
    /// The scheduled step.
    pub step: ScheduledStep,
}

impl WorklistItem {
    /// The study context for the objects of a scan fulfilling this order.
    pub fn study_context(&self, base: StudyContext) -> StudyContext {
        StudyContext {
            patient: self.patient.clone(),
            study_instance_uid: self.study_instance_uid.clone(),
            study_description: self.order.requested_procedure_description.clone(),
            referring_physician_name: self.referring_physician_name.clone(),
            order: Some(self.order.clone()),
            ..base
        }
    }
}

/// An answer the SCP gave that we could not use, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedItem {
    /// 0-based position among the SCP's answers.
    pub index: usize,
    /// What was missing or malformed (no patient data in it).
    pub reason: String,
}

/// The result of a worklist query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorklistReport {
    /// The usable orders, in the SCP's order.
    pub items: Vec<WorklistItem>,
    /// Answers that lacked required attributes or had malformed ones.
    pub rejected: Vec<RejectedItem>,
}

/// Why a worklist query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorklistError {
    /// The query was malformed.
    #[error("bad worklist query: {0}")]
    BadQuery(String),
    /// Network or DIMSE failure (rejected association, timeout, failure status).
    #[error("worklist query to {peer} failed: {source}")]
    Net {
        /// The worklist SCP.
        peer: String,
        /// The cause.
        source: NetError,
    },
}

fn valid_date_query(d: &str) -> bool {
    let is_date = |s: &str| s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit());
    match d.split_once('-') {
        None => is_date(d),
        Some((a, b)) => (a.is_empty() || is_date(a)) && (b.is_empty() || is_date(b)),
    }
}

/// The C-FIND identifier: every attribute we want back, with the matching keys set.
pub(crate) fn query_identifier(q: &WorklistQuery) -> InMemDicomObject {
    let mut step = InMemDicomObject::new_empty();
    put_str(
        &mut step,
        tags::SCHEDULED_STATION_AE_TITLE,
        VR::AE,
        q.station_ae_title.as_deref().unwrap_or(""),
    );
    put_str(
        &mut step,
        tags::SCHEDULED_PROCEDURE_STEP_START_DATE,
        VR::DA,
        q.date.as_deref().unwrap_or(""),
    );
    put_str(
        &mut step,
        tags::SCHEDULED_PROCEDURE_STEP_START_TIME,
        VR::TM,
        "",
    );
    put_str(&mut step, tags::MODALITY, VR::CS, &q.modality);
    put_str(
        &mut step,
        tags::SCHEDULED_PERFORMING_PHYSICIAN_NAME,
        VR::PN,
        "",
    );
    put_str(
        &mut step,
        tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION,
        VR::LO,
        "",
    );
    put_str(&mut step, tags::SCHEDULED_PROCEDURE_STEP_ID, VR::SH, "");
    put_str(&mut step, tags::SCHEDULED_STATION_NAME, VR::SH, "");
    let mut o = InMemDicomObject::new_empty();
    // No Specific Character Set in the query: it would declare the query's own encoding, and
    // an empty value makes encoders warn; SCPs return it with answers that need it.
    put_str(&mut o, tags::ACCESSION_NUMBER, VR::SH, "");
    put_str(&mut o, tags::REFERRING_PHYSICIAN_NAME, VR::PN, "");
    put_str(&mut o, tags::PATIENT_NAME, VR::PN, "");
    put_str(&mut o, tags::PATIENT_ID, VR::LO, "");
    put_str(&mut o, tags::PATIENT_BIRTH_DATE, VR::DA, "");
    put_str(&mut o, tags::PATIENT_SEX, VR::CS, "");
    put_str(&mut o, tags::STUDY_INSTANCE_UID, VR::UI, "");
    put_str(&mut o, tags::REQUESTED_PROCEDURE_DESCRIPTION, VR::LO, "");
    put_str(&mut o, tags::REQUESTED_PROCEDURE_ID, VR::SH, "");
    put_str(&mut o, tags::CURRENT_PATIENT_LOCATION, VR::LO, "");
    put_seq(&mut o, tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE, vec![step]);
    o
}

/// Why one C-FIND answer is not a usable order: the attribute named, never its value (a
/// field filled wrongly may hold patient data).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ItemError {
    /// A required attribute is absent.
    #[error("{name} is missing")]
    Missing {
        /// The attribute, with its tag.
        name: &'static str,
    },
    /// A required attribute is present but empty.
    #[error("{name} is empty")]
    Empty {
        /// The attribute, with its tag.
        name: &'static str,
    },
    /// An attribute does not have the form it must have.
    #[error("{name} is not {expected}")]
    Malformed {
        /// The attribute, with its tag.
        name: &'static str,
        /// The form expected.
        expected: &'static str,
    },
    /// The Scheduled Procedure Step Sequence has no item.
    #[error("Scheduled Procedure Step Sequence (0040,0100) has no item")]
    NoStep,
}

impl Recover for ItemError {
    fn recovery(&self) -> Recovery {
        match self {
            // The order in the RIS must be fixed by a person.
            ItemError::Missing { .. }
            | ItemError::Empty { .. }
            | ItemError::Malformed { .. }
            | ItemError::NoStep => Recovery::WaitForOperator,
        }
    }
}

/// Parses one C-FIND answer into an order, or says which attribute is missing or malformed.
///
/// # Errors
/// [`ItemError`] naming the attribute.
pub(crate) fn parse_item(o: &InMemDicomObject) -> Result<WorklistItem, ItemError> {
    let required = |tag, name: &'static str| -> Result<String, ItemError> {
        match text(o, tag) {
            Some(v) if !v.is_empty() => Ok(v),
            Some(_) => Err(ItemError::Empty { name }),
            None => Err(ItemError::Missing { name }),
        }
    };
    let patient_id = required(tags::PATIENT_ID, "Patient ID (0010,0020)")?;
    let study_uid = required(tags::STUDY_INSTANCE_UID, "Study Instance UID (0020,000D)")?;
    if !is_valid_uid(&study_uid) {
        return Err(ItemError::Malformed {
            name: "Study Instance UID (0020,000D)",
            expected: "a valid UID",
        });
    }
    let birth_date = text(o, tags::PATIENT_BIRTH_DATE).unwrap_or_default();
    if !(birth_date.is_empty()
        || (birth_date.len() == 8 && birth_date.bytes().all(|b| b.is_ascii_digit())))
    {
        return Err(ItemError::Malformed {
            name: "Patient's Birth Date (0010,0030)",
            expected: "YYYYMMDD",
        });
    }
    let sex = text(o, tags::PATIENT_SEX).unwrap_or_default();
    if !matches!(sex.as_str(), "" | "M" | "F" | "O") {
        // The value itself is not quoted: a field filled wrongly may hold anything.
        return Err(ItemError::Malformed {
            name: "Patient's Sex (0010,0040)",
            expected: "M, F, O or empty",
        });
    }
    let steps = o
        .element_opt(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE)
        .ok()
        .flatten()
        .and_then(|e| e.items())
        .ok_or(ItemError::Missing {
            name: "Scheduled Procedure Step Sequence (0040,0100)",
        })?;
    let step = steps.first().ok_or(ItemError::NoStep)?;
    let step_id = text(step, tags::SCHEDULED_PROCEDURE_STEP_ID).unwrap_or_default();
    let start_date = text(step, tags::SCHEDULED_PROCEDURE_STEP_START_DATE).unwrap_or_default();
    if !(start_date.is_empty()
        || (start_date.len() == 8 && start_date.bytes().all(|b| b.is_ascii_digit())))
    {
        return Err(ItemError::Malformed {
            name: "Scheduled Procedure Step Start Date (0040,0002)",
            expected: "YYYYMMDD",
        });
    }
    Ok(WorklistItem {
        patient: Patient {
            name: Phi::new(text(o, tags::PATIENT_NAME).unwrap_or_default()),
            id: Phi::new(patient_id),
            birth_date: Phi::new(birth_date),
            sex,
        },
        study_instance_uid: study_uid,
        order: OrderRef {
            accession_number: Phi::new(text(o, tags::ACCESSION_NUMBER).unwrap_or_default()),
            requested_procedure_id: text(o, tags::REQUESTED_PROCEDURE_ID).unwrap_or_default(),
            requested_procedure_description: text(o, tags::REQUESTED_PROCEDURE_DESCRIPTION)
                .unwrap_or_default(),
            scheduled_procedure_step_id: step_id.clone(),
            scheduled_procedure_step_description: text(
                step,
                tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION,
            )
            .unwrap_or_default(),
        },
        referring_physician_name: Phi::new(
            text(o, tags::REFERRING_PHYSICIAN_NAME).unwrap_or_default(),
        ),
        current_patient_location: text(o, tags::CURRENT_PATIENT_LOCATION).unwrap_or_default(),
        step: ScheduledStep {
            id: step_id,
            description: text(step, tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION).unwrap_or_default(),
            start_date,
            start_time: text(step, tags::SCHEDULED_PROCEDURE_STEP_START_TIME).unwrap_or_default(),
            modality: text(step, tags::MODALITY).unwrap_or_default(),
            station_ae_title: text(step, tags::SCHEDULED_STATION_AE_TITLE).unwrap_or_default(),
        },
    })
}

/// Queries the worklist SCP `peer` and parses the answers.
///
/// Answers missing a Patient ID, Study Instance UID or Scheduled Procedure Step, or with a
/// malformed date, UID or sex, go to [`WorklistReport::rejected`] with the reason; the others
/// are returned. A rejected association, a timeout or a failure status is an error.
pub fn query_worklist(
    peer: &Peer,
    options: &AssociationOptions,
    query: &WorklistQuery,
) -> Result<WorklistReport, WorklistError> {
    if let Some(d) = &query.date
        && !valid_date_query(d)
    {
        return Err(WorklistError::BadQuery(format!(
            "date `{d}` is not YYYYMMDD or YYYYMMDD-YYYYMMDD"
        )));
    }
    if let Some(ae) = &query.station_ae_title
        && (ae.is_empty() || ae.len() > 16)
    {
        return Err(WorklistError::BadQuery(format!(
            "station AE title `{ae}` must be 1 to 16 characters"
        )));
    }
    let net = |source| WorklistError::Net {
        peer: peer.to_string(),
        source,
    };
    let mut assoc = Association::open(
        peer,
        options,
        &[ProposedContext::new(
            MWL_FIND,
            &[EXPLICIT_VR_LE, IMPLICIT_VR_LE],
        )],
    )
    .map_err(net)?;
    let pc = assoc.context_for(MWL_FIND, &[]).map_err(net)?.clone();
    let identifier = encode_dataset(&query_identifier(query), &pc.transfer_syntax)
        .map_err(|e| WorklistError::BadQuery(e.to_string()))?;
    let answers = assoc.c_find(pc.id, MWL_FIND, &identifier).map_err(net)?;
    let _ = assoc.release();
    let mut report = WorklistReport::default();
    for (index, bytes) in answers.iter().enumerate() {
        let parsed = decode_dataset(bytes, &pc.transfer_syntax)
            .map_err(|e| format!("cannot decode the answer: {e}"))
            .and_then(|o| parse_item(&o).map_err(|e| e.to_string()));
        match parsed {
            Ok(item) => report.items.push(item),
            Err(reason) => report.rejected.push(RejectedItem { index, reason }),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_queries() {
        for ok in ["20260101", "20260101-20260102", "-20260102", "20260101-"] {
            assert!(valid_date_query(ok), "{ok}");
        }
        for bad in ["2026-01-01", "today", "2026010", ""] {
            assert!(!valid_date_query(bad), "{bad}");
        }
    }

    #[test]
    fn items_without_required_attributes_are_named() {
        let mut o = query_identifier(&WorklistQuery::default());
        assert!(
            parse_item(&o)
                .unwrap_err()
                .to_string()
                .contains("Patient ID")
        );
        put_str(&mut o, tags::PATIENT_ID, VR::LO, "P1");
        assert!(
            parse_item(&o)
                .unwrap_err()
                .to_string()
                .contains("Study Instance UID")
        );
        put_str(&mut o, tags::STUDY_INSTANCE_UID, VR::UI, "1.2.03");
        assert!(
            parse_item(&o)
                .unwrap_err()
                .to_string()
                .contains("not a valid UID")
        );
        put_str(&mut o, tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3");
        put_str(&mut o, tags::PATIENT_SEX, VR::CS, "X");
        assert!(parse_item(&o).unwrap_err().to_string().contains("Sex"));
        put_str(&mut o, tags::PATIENT_SEX, VR::CS, "F");
        let item = parse_item(&o).unwrap();
        assert_eq!(item.patient.id.expose(), "P1");
        o.remove_element(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE);
        assert!(
            parse_item(&o)
                .unwrap_err()
                .to_string()
                .contains("(0040,0100)")
        );
    }
}
