//! Scan orders as the dialogue sees them, a test order, and the scanner's dose model whose
//! planned dose is read back before an X-ray.
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

/// The dose a plan would deliver, as the scanner computes it from its tube model and
/// protocols. The dialogue reads it back before asking for confirmation and holds no dose
/// figures of its own, so what it says is what the scanner would deliver.
pub trait DoseModel: Send + Sync {
    /// The CTDIvol of `protocol` on `body_part`; `None` when the scanner has no such
    /// protocol (the dialogue then says so and plans nothing).
    fn planned_ctdivol(&self, body_part: BodyPart, protocol: Protocol) -> Option<Mgy>;
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
