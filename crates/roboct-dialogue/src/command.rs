//! Typed commands: what the parser produces from text and the dialogue acts on.

use std::fmt;

use roboct_core::Phi;
use serde_json::{Map, Value, json};

use crate::language::{BODY_PARTS, CommandKind, PROTOCOLS, SlotKind, TOPICS};

macro_rules! slot_enum {
    ($(#[$doc:meta])* $name:ident, $table:ident, [$($(#[$vdoc:meta])* $variant:ident = $index:expr),+ $(,)?]) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in the language's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value's name in JSON (from the language data).
            pub fn name(self) -> &'static str {
                $table[self.index()].name
            }

            /// The canonical spoken phrase (from the language data).
            pub fn spoken(self) -> &'static str {
                $table[self.index()].spoken[0]
            }

            /// The value at `index` in the language's table.
            pub fn from_index(index: usize) -> Option<Self> {
                Self::ALL.get(index).copied()
            }

            fn index(self) -> usize {
                match self {
                    $($name::$variant => $index),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.spoken())
            }
        }
    };
}

slot_enum!(
    /// A body part that can be scanned.
    BodyPart, BODY_PARTS, [
        /// Head.
        Head = 0,
        /// Chest.
        Chest = 1,
        /// Abdomen.
        Abdomen = 2,
    ]
);

slot_enum!(
    /// A scan protocol.
    Protocol, PROTOCOLS, [
        /// Reduced tube current.
        LowDose = 0,
        /// The standard protocol for the body part.
        Standard = 1,
        /// A quarter of the views, reconstructed iteratively.
        SparseView = 2,
    ]
);

slot_enum!(
    /// What a status question asks about.
    Topic, TOPICS, [
        /// Where the robot is.
        Location = 0,
        /// The battery level.
        Battery = 1,
        /// How long the current task will take.
        Time = 2,
        /// Everything at once.
        General = 3,
    ]
);

/// Where to drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A ward, and a bed in it if given.
    Ward {
        /// The ward number.
        ward: u32,
        /// The bed number.
        bed: Option<u32>,
    },
    /// A room.
    Room(u32),
    /// The docking station.
    Dock,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Ward {
                ward,
                bed: Some(bed),
            } => write!(f, "ward {ward}, bed {bed}"),
            Destination::Ward { ward, bed: None } => write!(f, "ward {ward}"),
            Destination::Room(r) => write!(f, "room {r}"),
            Destination::Dock => f.write_str("the dock"),
        }
    }
}

/// A command with its slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Drive somewhere (the dock included).
    Go(Destination),
    /// Prepare a scan; missing slots are asked for.
    Scan {
        /// The body part, if said.
        body_part: Option<BodyPart>,
        /// The protocol, if said.
        protocol: Option<Protocol>,
    },
    /// The patient ID read from the wristband.
    Verify {
        /// The digits.
        patient_id: Phi<String>,
    },
    /// Confirm the plan read back.
    Confirm,
    /// Cancel the pending question or plan.
    Cancel,
    /// Emergency stop.
    Stop,
    /// Pause.
    Pause,
    /// Resume.
    Resume,
    /// A status question.
    Status(Topic),
    /// Upload results.
    Upload,
    /// Repeat the last answer.
    Repeat,
    /// Help.
    Help,
}

impl Command {
    /// The command's kind in the language.
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Go(Destination::Dock) => CommandKind::Dock,
            Command::Go(_) => CommandKind::Go,
            Command::Scan { .. } => CommandKind::Scan,
            Command::Verify { .. } => CommandKind::Verify,
            Command::Confirm => CommandKind::Confirm,
            Command::Cancel => CommandKind::Cancel,
            Command::Stop => CommandKind::Stop,
            Command::Pause => CommandKind::Pause,
            Command::Resume => CommandKind::Resume,
            Command::Status(_) => CommandKind::Status,
            Command::Upload => CommandKind::Upload,
            Command::Repeat => CommandKind::Repeat,
            Command::Help => CommandKind::Help,
        }
    }

    /// The slots as a JSON object (`{"ward": 3, "bed": 12}`). The patient ID is included: it
    /// is what the operator asked the recognizer for; callers that log must not log it.
    pub fn slots_json(&self) -> Value {
        let mut m = Map::new();
        match self {
            Command::Go(Destination::Ward { ward, bed }) => {
                m.insert("ward".into(), json!(ward));
                if let Some(b) = bed {
                    m.insert("bed".into(), json!(b));
                }
            }
            Command::Go(Destination::Room(r)) => {
                m.insert("room".into(), json!(r));
            }
            Command::Scan {
                body_part,
                protocol,
            } => {
                if let Some(b) = body_part {
                    m.insert("body_part".into(), json!(b.name()));
                }
                if let Some(p) = protocol {
                    m.insert("protocol".into(), json!(p.name()));
                }
            }
            Command::Verify { patient_id } => {
                m.insert("patient_id".into(), json!(patient_id.expose()));
            }
            Command::Status(t) => {
                m.insert("topic".into(), json!(t.name()));
            }
            _ => {}
        }
        Value::Object(m)
    }

    /// Builds a command from a kind and slot values (the parser's last step). `None` when a
    /// required slot is missing (a bug in the language data, caught by the tests).
    pub fn from_slots(kind: CommandKind, slots: &SlotValuesFound) -> Option<Command> {
        Some(match kind {
            CommandKind::Go => {
                if let Some(room) = slots.room {
                    Command::Go(Destination::Room(room))
                } else {
                    Command::Go(Destination::Ward {
                        ward: slots.ward?,
                        bed: slots.bed,
                    })
                }
            }
            CommandKind::Dock => Command::Go(Destination::Dock),
            CommandKind::Scan => Command::Scan {
                body_part: slots.body_part,
                protocol: slots.protocol,
            },
            CommandKind::Verify => Command::Verify {
                patient_id: Phi::new(slots.patient_id.clone()?),
            },
            CommandKind::Confirm => Command::Confirm,
            CommandKind::Cancel => Command::Cancel,
            CommandKind::Stop => Command::Stop,
            CommandKind::Pause => Command::Pause,
            CommandKind::Resume => Command::Resume,
            CommandKind::Status => Command::Status(slots.topic.unwrap_or(Topic::General)),
            CommandKind::Upload => Command::Upload,
            CommandKind::Repeat => Command::Repeat,
            CommandKind::Help => Command::Help,
        })
    }
}

/// Slot values found in a sentence, before they become a [`Command`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotValuesFound {
    /// `{ward}`
    pub ward: Option<u32>,
    /// `{bed}`
    pub bed: Option<u32>,
    /// `{room}`
    pub room: Option<u32>,
    /// `{body_part}`
    pub body_part: Option<BodyPart>,
    /// `{protocol}`
    pub protocol: Option<Protocol>,
    /// `{patient_id}` (raw digits; wrapped in `Phi` in the command)
    pub patient_id: Option<String>,
    /// `{topic}`
    pub topic: Option<Topic>,
}

impl SlotValuesFound {
    /// Records a word-valued slot given by its index in the language table.
    pub fn set_word(&mut self, kind: SlotKind, index: usize) {
        match kind {
            SlotKind::BodyPart => self.body_part = BodyPart::from_index(index),
            SlotKind::Protocol => self.protocol = Protocol::from_index(index),
            SlotKind::Topic => self.topic = Topic::from_index(index),
            _ => {}
        }
    }

    /// Records a number slot.
    pub fn set_number(&mut self, kind: SlotKind, value: u32) {
        match kind {
            SlotKind::Ward => self.ward = Some(value),
            SlotKind::Bed => self.bed = Some(value),
            SlotKind::Room => self.room = Some(value),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_enums_follow_the_language_tables() {
        assert_eq!(BodyPart::ALL.len(), BODY_PARTS.len());
        assert_eq!(Protocol::ALL.len(), PROTOCOLS.len());
        assert_eq!(Topic::ALL.len(), TOPICS.len());
        assert_eq!(Protocol::SparseView.name(), "sparse_view");
        assert_eq!(Protocol::SparseView.to_string(), "sparse view");
        assert_eq!(BodyPart::Abdomen.name(), "abdomen");
        assert_eq!(Topic::Time.spoken(), "how long");
    }

    #[test]
    fn slots_become_json() {
        let c = Command::Go(Destination::Ward {
            ward: 3,
            bed: Some(12),
        });
        assert_eq!(c.slots_json(), json!({"ward": 3, "bed": 12}));
        assert_eq!(c.kind(), CommandKind::Go);
        assert_eq!(Command::Go(Destination::Dock).kind(), CommandKind::Dock);
        let s = Command::Scan {
            body_part: Some(BodyPart::Chest),
            protocol: None,
        };
        assert_eq!(s.slots_json(), json!({"body_part": "chest"}));
        assert_eq!(Command::Stop.slots_json(), json!({}));
    }

    #[test]
    fn a_patient_id_never_prints_in_debug() {
        let c = Command::Verify {
            patient_id: Phi::new("4711".into()),
        };
        assert!(!format!("{c:?}").contains("4711"));
    }
}
