//! Protected health information.

use std::fmt;

/// A value that identifies a patient (name, ID, birth date, accession number).
///
/// `Debug` and `Display` print `<redacted>`, so a `Phi` inside an error, a log line or a
/// `{:?}` of a larger struct never reveals who the patient is. Code that must use the value
/// (to write a DICOM attribute, to compare against an order) calls [`Phi::expose`], which makes
/// every such place easy to find and review.
#[derive(Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Phi<T>(T);

impl<T> Phi<T> {
    /// Wraps a patient-identifying value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The protected value. Use it only to hand it to a place that needs it (a DICOM
    /// attribute, an identity check), never to format it into a message.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the protected value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Phi<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Phi<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> From<T> for Phi<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)] // the fields are read only through Debug
    struct Order {
        patient_name: Phi<String>,
        body_part: &'static str,
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let order = Order {
            patient_name: Phi::new("DOE^JANE".to_string()),
            body_part: "HEAD",
        };
        let printed = format!("{order:?} {}", order.patient_name);
        assert!(!printed.contains("DOE"), "{printed}");
        assert!(printed.contains("<redacted>"));
        assert!(printed.contains("HEAD"));
        assert_eq!(order.patient_name.expose(), "DOE^JANE");
    }

    #[test]
    fn serde_keeps_the_value_for_storage() {
        let id = Phi::new("PID-42".to_string());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"PID-42\"");
        let back: Phi<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
    }
}
