//! Unique identifiers: one project root, one place that makes them.
//!
//! DICOM UIDs (PS3.5 §9) are dot-separated numbers of at most 64 characters. A modality needs
//! an organisational root under which it may mint UIDs. roboct ships without a registered root,
//! so by default it uses the UUID-derived arc `2.25` (PS3.5 §B.2, ISO/IEC 9834-8): every UID is
//! `2.25.` followed by the decimal value of a version-8 UUID whose first 32 bits are the fixed
//! project tag `0x524F4354` ("ROCT") and whose remaining bits are random. A site with its own
//! registered root sets `uid_root` in the configuration instead; UIDs are then
//! `<root>.<random decimal>` filled up to 64 characters.

use thiserror::Error;

/// The Implementation Class UID written in every file meta header and association request
/// (a fixed UUID under `2.25`, so receivers can tell our files from dicom-rs defaults).
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.259177753169896351115944776456751960435";

/// The Implementation Version Name paired with [`IMPLEMENTATION_CLASS_UID`] (at most 16 chars).
pub const IMPLEMENTATION_VERSION_NAME: &str = concat!("ROBOCT_", env!("CARGO_PKG_VERSION"));

/// The UUID-derived root used when no registered root is configured.
pub const UUID_ROOT: &str = "2.25";

/// The first 32 bits of every UUID that roboct derives a UID from ("ROCT" in ASCII).
pub const PROJECT_UUID_TAG: u32 = 0x524F_4354;

/// A UID root was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UidError {
    /// The root is not a valid UID prefix.
    #[error(
        "UID root `{root}` is invalid: {why} (expected numbers separated by dots, no leading zeros, e.g. `1.2.826.0.1.3680043.10.1234`)"
    )]
    BadRoot {
        /// The root given.
        root: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// Makes new UIDs under one root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UidGenerator {
    root: String,
}

impl Default for UidGenerator {
    fn default() -> Self {
        Self {
            root: UUID_ROOT.to_string(),
        }
    }
}

/// The longest registered root we accept: at least 19 random digits (63 bits) must follow it.
const MAX_ROOT_LEN: usize = 64 - 1 - 19;

impl UidGenerator {
    /// A generator under `root` (`2.25` for UUID-derived UIDs, else a registered root).
    pub fn new(root: &str) -> Result<Self, UidError> {
        let bad = |why| UidError::BadRoot {
            root: root.to_string(),
            why,
        };
        if root.len() > MAX_ROOT_LEN {
            return Err(bad(
                "longer than 44 characters, leaving too few digits to be unique",
            ));
        }
        if !is_valid_uid(root) {
            return Err(bad("not a valid UID"));
        }
        Ok(Self {
            root: root.to_string(),
        })
    }

    /// The root.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// A new UID, unique with overwhelming probability (at least 63 random bits).
    pub fn generate(&self) -> String {
        let mut bytes = [0u8; 16];
        fill_random(&mut bytes);
        let random = u128::from_be_bytes(bytes);
        if self.root == UUID_ROOT {
            // Version-8 UUID (RFC 9562 §5.8): tag | 16 random | ver 8 | 12 random | var 10 | 62 random.
            let mut v = random & !(0xFFFF_FFFFu128 << 96);
            v |= (PROJECT_UUID_TAG as u128) << 96;
            v = (v & !(0xF << 76)) | (0x8 << 76);
            v = (v & !(0x3 << 62)) | (0x2 << 62);
            return format!("{UUID_ROOT}.{v}");
        }
        let digits = (64 - self.root.len() - 1).min(38) as u32;
        let low = 10u128.pow(digits - 1);
        let value = low + random % (9 * low);
        format!("{}.{value}", self.root)
    }
}

/// Whether `uid` is a syntactically valid DICOM UID (PS3.5 §9.1).
pub fn is_valid_uid(uid: &str) -> bool {
    if uid.is_empty() || uid.len() > 64 {
        return false;
    }
    uid.split('.').all(|c| {
        !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()) && (c == "0" || !c.starts_with('0'))
    })
}

fn fill_random(buf: &mut [u8]) {
    if getrandom::fill(buf).is_err() {
        // No OS randomness (should not happen on Linux): fall back to time and a counter,
        // which still keeps UIDs from one process distinct.
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mixed = now
            ^ ((COUNTER.fetch_add(1, Ordering::Relaxed) as u128) << 64)
            ^ ((std::process::id() as u128) << 96);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (mixed >> ((i % 16) * 8)) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn uuid_derived_uids_are_valid_unique_and_tagged() {
        let g = UidGenerator::default();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let uid = g.generate();
            assert!(is_valid_uid(&uid), "{uid}");
            assert!(uid.len() <= 44);
            let v: u128 = uid.strip_prefix("2.25.").unwrap().parse().unwrap();
            assert_eq!((v >> 96) as u32, PROJECT_UUID_TAG);
            assert_eq!((v >> 76) & 0xF, 8, "UUID version");
            assert_eq!((v >> 62) & 0x3, 2, "UUID variant");
            assert!(seen.insert(uid));
        }
        assert!(is_valid_uid(IMPLEMENTATION_CLASS_UID));
        assert!(IMPLEMENTATION_VERSION_NAME.len() <= 16);
    }

    #[test]
    fn bad_roots_are_refused() {
        for root in ["", "1.2.", "1..2", "1.02.3", "1.2.a", &"1.2".repeat(20)] {
            assert!(UidGenerator::new(root).is_err(), "{root}");
        }
        let e = UidGenerator::new("1.02").unwrap_err();
        assert!(e.to_string().contains("1.02"));
    }

    proptest! {
        #[test]
        fn registered_roots_give_valid_uids(parts in proptest::collection::vec(1u32..100000, 1..8)) {
            let root = parts.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(".");
            prop_assume!(root.len() <= MAX_ROOT_LEN);
            let g = UidGenerator::new(&root).unwrap();
            let uid = g.generate();
            prop_assert!(is_valid_uid(&uid));
            prop_assert!(uid.starts_with(&(root.clone() + ".")));
            prop_assert!(uid.len() - root.len() > 19, "at least 19 random digits");
        }
    }
}
