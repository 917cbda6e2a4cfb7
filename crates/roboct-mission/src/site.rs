//! The site configuration (`roboct demo --site FILE`): the hospital's map, the dock, the
//! PACS, the dose notification values and the exposure radius. Validated when loaded: an
//! error names the file, the field and what was expected.

use std::path::{Path, PathBuf};

use crate::mission::Settings;
use crate::phase::MissionError;

/// A site file (TOML). Every field is optional; what is not given keeps the default.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The site's map: a ROS map_server YAML with roboct's semantic layer (places, beds,
    /// doors, elevators), relative to the site file. None: the embedded hospital.
    pub map: Option<PathBuf>,
    /// The dock's place name.
    pub dock: Option<String>,
    /// The DICOM configuration (PACS, MPPS), relative to the site file. None: the embedded
    /// PACS.
    pub pacs: Option<PathBuf>,
    /// CTDIvol over which a head scan needs a second confirmation, mGy.
    pub notification_head_mgy: Option<f64>,
    /// The same for a body scan, mGy.
    pub notification_body_mgy: Option<f64>,
    /// Nobody but the patient within this distance during X-ray, m.
    pub exposure_radius_m: Option<f64>,
    /// Battery kept in reserve beyond the route there and back, fraction of capacity.
    pub battery_reserve: Option<f64>,
}

impl SiteConfig {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, MissionError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| MissionError::Site(format!("{}: {e}", path.display())))?;
        let mut site: SiteConfig = toml::from_str(&text)
            .map_err(|e| MissionError::Site(format!("{}: {}", path.display(), e.message())))?;
        let bad = |field: &str, why: String| {
            MissionError::Site(format!("{}: {field}: {why}", path.display()))
        };
        let positive = |field: &str, v: Option<f64>, max: f64| match v {
            Some(x) if !(x > 0.0 && x <= max) => Err(bad(
                field,
                format!("{x} is out of range; expected more than 0 and at most {max}"),
            )),
            _ => Ok(()),
        };
        positive("notification_head_mgy", site.notification_head_mgy, 1000.0)?;
        positive("notification_body_mgy", site.notification_body_mgy, 1000.0)?;
        positive("exposure_radius_m", site.exposure_radius_m, 20.0)?;
        if let Some(r) = site.battery_reserve
            && !(0.0..0.9).contains(&r)
        {
            return Err(bad(
                "battery_reserve",
                format!("{r} is out of range; expected a fraction from 0 to 0.9"),
            ));
        }
        if site.dock.as_deref().is_some_and(|d| d.trim().is_empty()) {
            return Err(bad(
                "dock",
                "empty; expected a place name of the site".into(),
            ));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        for (field, p) in [("map", &mut site.map), ("pacs", &mut site.pacs)] {
            if let Some(f) = p {
                let full = dir.join(&*f);
                if !full.is_file() {
                    return Err(bad(field, format!("{} does not exist", full.display())));
                }
                *f = full;
            }
        }
        Ok(site)
    }

    /// `settings` with this site's values.
    pub fn apply(&self, mut settings: Settings) -> Settings {
        if let Some(d) = &self.dock {
            settings.dock = d.clone();
        }
        if let Some(v) = self.notification_head_mgy {
            settings.notification_head_mgy = v;
        }
        if let Some(v) = self.notification_body_mgy {
            settings.notification_body_mgy = v;
        }
        if let Some(v) = self.exposure_radius_m {
            settings.exposure_radius_m = v;
        }
        if let Some(v) = self.battery_reserve {
            settings.battery_reserve = v;
        }
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<SiteConfig, MissionError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("site.toml");
        std::fs::write(&p, text).unwrap();
        SiteConfig::load(&p)
    }

    #[test]
    fn a_site_file_is_validated_field_by_field() {
        let ok = load("dock = \"dock\"\nnotification_head_mgy = 40\n").unwrap();
        assert_eq!(ok.notification_head_mgy, Some(40.0));
        let s = ok.apply(Settings::default());
        assert_eq!(s.notification_head_mgy, 40.0);
        assert_eq!(s.notification_body_mgy, 50.0);
        for (text, expected) in [
            ("notification_head_mgy = -3", "notification_head_mgy: -3"),
            ("exposure_radius_m = 0", "exposure_radius_m: 0"),
            ("battery_reserve = 1.5", "battery_reserve: 1.5"),
            ("dock = \" \"", "dock: empty"),
            ("colour = \"red\"", "unknown field `colour`"),
            ("map = \"nowhere.yaml\"", "map: "),
            ("notification_head_mgy = \"high\"", "invalid type"),
        ] {
            let e = load(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text}: {e}");
            assert!(e.contains("site.toml"), "{e}");
        }
    }
}
