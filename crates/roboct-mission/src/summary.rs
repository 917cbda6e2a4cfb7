//! The summary of a finished mission for people: what it took (time and energy by phase), what
//! it found and where its artefacts are. [`MissionReport`] formats it; the command line prints it.

use std::fmt;
use std::path::Path;

use roboct_dicom::scp::ScpEvent;

use crate::mission::Summary;

/// A finished mission with what the caller knows beside it.
pub struct MissionReport<'a> {
    /// The mission's own summary.
    pub summary: &'a Summary,
    /// Seconds it took on the wall clock.
    pub wall_s: f64,
    /// What the embedded PACS saw (empty for a real PACS).
    pub pacs_events: &'a [ScpEvent],
    /// Warnings of the imaging chain.
    pub warnings: &'a [String],
    /// The event log written.
    pub log: &'a Path,
    /// The folder of every artefact (it holds `patient_truth.json` and `missions.sqlite`).
    pub out: &'a Path,
}

/// Instances the embedded PACS stored.
pub fn stored(events: &[ScpEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, ScpEvent::Stored(_)))
        .count()
}

impl MissionReport<'_> {
    fn heading(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.summary;
        writeln!(f)?;
        writeln!(
            f,
            "Summary: mission {} {} after {:.0} s on the robot's clock ({:.1} s here); route to the bed {:.1} m",
            s.mission,
            match &s.failure {
                None => "done".to_string(),
                Some((why, r)) => format!("failed ({why}; recovery: {r})"),
            },
            s.total_s,
            self.wall_s,
            s.route_m
        )
    }

    fn ledger(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.summary.ledger;
        writeln!(f, "  time and energy by phase:")?;
        for (phase, secs) in &l.seconds {
            let j = l.joules_by_phase.get(phase).copied().unwrap_or(0.0);
            let c = l.compute_s.get(phase).copied().unwrap_or(0.0);
            let computing = if c > 0.0 {
                format!("  ({c:.1} s computing)")
            } else {
                String::new()
            };
            writeln!(
                f,
                "    {:<22} {secs:7.1} s {:9.1} kJ{computing}",
                phase.name(),
                j / 1e3
            )?;
        }
        let kinds: Vec<String> = l
            .joules
            .iter()
            .map(|(k, j)| format!("{} {:.1} kJ", format!("{k:?}").to_lowercase(), j / 1e3))
            .collect();
        writeln!(
            f,
            "  energy: {:.1} kJ in all ({})",
            l.total_j() / 1e3,
            kinds.join(", ")
        )
    }

    fn imaging(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(ct) = &self.summary.ct else {
            return Ok(());
        };
        if let Some(d) = &ct.dose {
            writeln!(
                f,
                "  dose: CTDIvol {:.1} mGy, DLP {:.0} mGy.cm ({} phantom)",
                d.ctdi_vol.0,
                d.dlp.0,
                match d.ctdi_phantom {
                    roboct_scanner::CtdiPhantom::Head16 => "16 cm head",
                    roboct_scanner::CtdiPhantom::Body32 => "32 cm body",
                }
            )?;
        }
        writeln!(f, "  findings:")?;
        for finding in &ct.findings {
            writeln!(f, "    {finding}")?;
        }
        writeln!(
            f,
            "  PACS: {} instances acknowledged by {}, {} waiting in the outbox{}{}",
            ct.sent,
            ct.pacs.as_deref().unwrap_or("no PACS"),
            ct.pending,
            ct.first_slice_s.map_or(String::new(), |t| format!(
                "; first slice stored {t:.2} s after the first slab, last slab at {:.2} s",
                ct.last_slab_s.unwrap_or(f64::NAN)
            )),
            ct.mpps
                .as_deref()
                .map_or(String::new(), |m| format!("; procedure step {m}"))
        )?;
        if !self.pacs_events.is_empty() {
            writeln!(
                f,
                "  the embedded PACS stored {} instances",
                stored(self.pacs_events)
            )?;
        }
        writeln!(f, "  artefacts:")?;
        writeln!(
            f,
            "    CT series       {} ({} images)",
            ct.dicom_dir.display(),
            ct.images
        )?;
        writeln!(f, "    volume (HU)     {}", ct.volume.display())?;
        for p in &ct.previews {
            writeln!(f, "    image           {}", p.display())?;
        }
        for p in &ct.reports {
            writeln!(f, "    report          {}", p.display())?;
        }
        Ok(())
    }
}

impl fmt::Display for MissionReport<'_> {
    /// A blank line, then the summary's lines, each ending in a newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.heading(f)?;
        self.ledger(f)?;
        self.imaging(f)?;
        for (t, what) in &self.summary.cuts {
            writeln!(f, "  interlock at {t:.1} s: {what}")?;
        }
        for w in self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        writeln!(f, "    event log       {}", self.log.display())?;
        writeln!(
            f,
            "    patient truth   {}",
            self.out.join("patient_truth.json").display()
        )?;
        writeln!(
            f,
            "    mission store   {}",
            self.out.join("missions.sqlite").display()
        )
    }
}
