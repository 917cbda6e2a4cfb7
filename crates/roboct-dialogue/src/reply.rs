//! What the scanner says back: text whose patient-identifying parts stay wrapped.

use std::fmt;

use roboct_core::Phi;

/// One part of a reply.
#[derive(Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Phi(Phi<String>),
}

/// A spoken reply. It may read back a patient's name and ID before an X-ray, so it keeps
/// those parts as [`Phi`]: `Debug` and [`Reply::redacted`] print `<redacted>` in their
/// place (for logs), and only [`Reply::speak`] (for the speaker and the operator's screen)
/// shows them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Reply {
    parts: Vec<Part>,
}

impl Reply {
    /// A reply of plain text.
    pub fn text(s: impl Into<String>) -> Self {
        Reply {
            parts: vec![Part::Text(s.into())],
        }
    }

    /// Appends text.
    pub fn push(&mut self, s: impl Into<String>) -> &mut Self {
        self.parts.push(Part::Text(s.into()));
        self
    }

    /// Appends a patient-identifying value.
    pub fn push_phi(&mut self, v: Phi<String>) -> &mut Self {
        self.parts.push(Part::Phi(v));
        self
    }

    /// Appends another reply.
    pub fn append(&mut self, other: Reply) -> &mut Self {
        self.parts.extend(other.parts);
        self
    }

    /// The full text, to be spoken or shown to the operator.
    pub fn speak(&self) -> String {
        self.join(|p| match p {
            Part::Text(t) => t.clone(),
            Part::Phi(v) => v.expose().clone(),
        })
    }

    /// The text with patient-identifying parts replaced by `<redacted>`, for logs.
    pub fn redacted(&self) -> String {
        self.join(|p| match p {
            Part::Text(t) => t.clone(),
            Part::Phi(_) => "<redacted>".into(),
        })
    }

    /// Whether the reply holds patient-identifying parts.
    pub fn has_phi(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Phi(_)))
    }

    fn join(&self, f: impl Fn(&Part) -> String) -> String {
        self.parts.iter().map(f).collect::<String>()
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reply({:?})", self.redacted())
    }
}

/// Digits read one by one ("4711" -> "4 7 1 1"), so a voice says "four seven one one"
/// rather than "four thousand seven hundred eleven".
pub fn digits_apart(id: &str) -> String {
    id.chars()
        .filter(|c| !c.is_whitespace())
        .map(String::from)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phi_is_spoken_but_never_debugged() {
        let mut r = Reply::text("Patient ");
        r.push_phi(Phi::new("Erika Mustermann".into())).push(".");
        assert_eq!(r.speak(), "Patient Erika Mustermann.");
        assert_eq!(r.redacted(), "Patient <redacted>.");
        assert!(!format!("{r:?}").contains("Erika"));
        assert!(r.has_phi());
        assert!(!Reply::text("ok").has_phi());
        assert_eq!(digits_apart("4711"), "4 7 1 1");
    }
}
