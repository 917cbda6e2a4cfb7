//! Scan orders as the dialogue sees them, a test order, and the planned dose read back
//! before an X-ray.
//!
//! The worklist issue supplies real orders from the hospital's modality worklist; they only
//! need to implement [`ScanOrder`]. Until then [`TestOrder`] stands in.

use roboct_core::Phi;
use roboct_core::units::Mgy;

use crate::command::{BodyPart, Destination, Protocol};

/// What the dialogue needs from a scan order.
pub trait ScanOrder {
    /// The patient's name as it is read aloud ("Erika Mustermann").
    fn spoken_patient_name(&self) -> Phi<String>;
    /// The patient ID as printed on the wristband (digits).
    fn patient_id(&self) -> &Phi<String>;
    /// The body part ordered.
    fn body_part(&self) -> BodyPart;
    /// The protocol ordered, if the order fixes one.
    fn protocol(&self) -> Option<Protocol>;
    /// Where the patient is.
    fn location(&self) -> Destination;
}

/// A scan order for tests and demonstrations.
#[derive(Clone, Debug, PartialEq)]
pub struct TestOrder {
    /// The patient's name in DICOM form (`FAMILY^GIVEN`).
    pub patient_name: Phi<String>,
    /// The patient ID.
    pub patient_id: Phi<String>,
    /// The body part.
    pub body_part: BodyPart,
    /// The protocol, if fixed.
    pub protocol: Option<Protocol>,
    /// Where the patient is.
    pub location: Destination,
}

impl TestOrder {
    /// The order used by `roboct say` and the tests: a chest scan for Erika Mustermann,
    /// patient ID 4711, in ward 3, bed 12 (a made-up patient).
    pub fn example() -> Self {
        TestOrder {
            patient_name: Phi::new("MUSTERMANN^ERIKA".into()),
            patient_id: Phi::new("4711".into()),
            body_part: BodyPart::Chest,
            protocol: None,
            location: Destination::Ward {
                ward: 3,
                bed: Some(12),
            },
        }
    }
}

impl ScanOrder for TestOrder {
    fn spoken_patient_name(&self) -> Phi<String> {
        Phi::new(spoken_person_name(self.patient_name.expose()))
    }

    fn patient_id(&self) -> &Phi<String> {
        &self.patient_id
    }

    fn body_part(&self) -> BodyPart {
        self.body_part
    }

    fn protocol(&self) -> Option<Protocol> {
        self.protocol
    }

    fn location(&self) -> Destination {
        self.location
    }
}

/// A DICOM person name (`FAMILY^GIVEN^MIDDLE^PREFIX^SUFFIX`) in reading order
/// ("Erika Mustermann").
pub fn spoken_person_name(dicom: &str) -> String {
    let parts: Vec<&str> = dicom.split('^').map(str::trim).collect();
    let cap = |s: &str| {
        s.split(' ')
            .filter(|w| !w.is_empty())
            .map(|w| {
                let lower = w.to_lowercase();
                let mut c = lower.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let order = [3usize, 1, 2, 0, 4];
    order
        .iter()
        .filter_map(|&i| parts.get(i).filter(|p| !p.is_empty()).map(|p| cap(p)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The CTDIvol read back for a plan, until the scanner crate computes it from its tube
/// model.
///
/// Standard protocols use the US achievable doses (the median CTDIvol over US practices) of
/// Kanal et al., "U.S. Diagnostic Reference Levels and Achievable Doses for 10 Adult CT
/// Examinations", Radiology 284 (2017) 120-133: head 50 mGy, chest 9 mGy, abdomen 12 mGy.
/// Low dose is 30% of the standard tube current-time product (chest: 2.7 mGy, within the
/// 3 mGy of lung screening); sparse view acquires one view in four at the standard exposure
/// per view (25%).
pub fn planned_ctdivol(body_part: BodyPart, protocol: Protocol) -> Mgy {
    let standard = match body_part {
        BodyPart::Head => 50.0,
        BodyPart::Chest => 9.0,
        BodyPart::Abdomen => 12.0,
    };
    let factor = match protocol {
        Protocol::Standard => 1.0,
        Protocol::LowDose => 0.3,
        Protocol::SparseView => 0.25,
    };
    Mgy(standard * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_in_order() {
        assert_eq!(spoken_person_name("MUSTERMANN^ERIKA"), "Erika Mustermann");
        assert_eq!(spoken_person_name("DOE^JOHN^Q^DR"), "Dr John Q Doe");
        assert_eq!(spoken_person_name("SMITH"), "Smith");
        assert_eq!(spoken_person_name("van der BERG^anna"), "Anna Van Der Berg");
    }

    #[test]
    fn planned_doses() {
        assert_eq!(
            planned_ctdivol(BodyPart::Chest, Protocol::Standard),
            Mgy(9.0)
        );
        assert!((planned_ctdivol(BodyPart::Chest, Protocol::LowDose).0 - 2.7).abs() < 1e-9);
        assert_eq!(
            planned_ctdivol(BodyPart::Head, Protocol::SparseView),
            Mgy(12.5)
        );
        for b in BodyPart::ALL {
            for p in Protocol::ALL {
                let d = planned_ctdivol(*b, *p);
                assert!(d.0 > 0.0 && d <= planned_ctdivol(*b, Protocol::Standard));
            }
        }
    }

    #[test]
    fn the_example_order_never_prints_its_patient() {
        let o = TestOrder::example();
        let printed = format!("{o:?} {}", o.spoken_patient_name());
        assert!(
            !printed.contains("MUSTERMANN") && !printed.contains("4711"),
            "{printed}"
        );
        assert_eq!(o.spoken_patient_name().expose(), "Erika Mustermann");
    }
}
