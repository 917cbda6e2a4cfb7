//! The scanner's protocol book: what an order's body part and protocol name mean in tube
//! current, views and nominal range, and the dose one rotation of it delivers by the
//! scanner's tube model. The CT chain plans its scans from it, and the dialogue reads its
//! dose back through [`ScannerDoses`], so the figure spoken before an X-ray is the one the
//! scanner plans.

use roboct_core::units::Mgy;
use roboct_dialogue::command::{BodyPart, Protocol as SpokenProtocol};
use roboct_dialogue::order::DoseModel;
use roboct_scanner::dose::{Irradiation, ctdi_w_per_100mas};
use roboct_scanner::{CtdiPhantom, DoseRecord, Protocol, ScannerError, ScannerSpec, Spectrum};

use crate::phase::MissionError;

/// One body part's protocol, before the scout places it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Technique {
    /// The CTDI phantom its dose is stated in (16 cm head, 32 cm body).
    pub ctdi_phantom: CtdiPhantom,
    /// The range scanned when no scout placed it, mm along z.
    pub nominal_range_mm: [f64; 2],
    /// Tube current-time product of the rotation, mAs.
    pub mas: f64,
    /// Views per rotation.
    pub views: usize,
}

/// The technique of an order's body part (`HEAD`, `CHEST`) and protocol (`standard`,
/// `low dose`, `sparse view`): low dose is a quarter of the standard mAs, sparse view the
/// same quarter spread over a third of the views.
pub fn technique(body_part: &str, protocol: &str) -> Result<Technique, MissionError> {
    let (ctdi_phantom, nominal_range_mm) = match body_part {
        "HEAD" => (CtdiPhantom::Head16, [-100.0f64, 110.0]),
        "CHEST" => (CtdiPhantom::Body32, [-110.0f64, 110.0]),
        other => {
            return Err(MissionError::BadOrder(format!(
                "body part {other:?}: this scanner scans HEAD or CHEST"
            )));
        }
    };
    let (mas, views) = match protocol {
        "standard" => (250.0, 360),
        "low dose" | "low-dose" => (62.5, 360),
        "sparse view" | "sparse-view" => (62.5, 120),
        other => {
            return Err(MissionError::BadOrder(format!(
                "protocol {other:?}: expected standard, low dose or sparse view"
            )));
        }
    };
    Ok(Technique {
        ctdi_phantom,
        nominal_range_mm,
        mas,
        views,
    })
}

/// The dose record of one axial rotation of `protocol` at `mas` (planned or delivered).
pub fn dose_record(
    spec: &ScannerSpec,
    spectrum: &Spectrum,
    protocol: &Protocol,
    mas: f64,
) -> Result<DoseRecord, ScannerError> {
    let per_100 = ctdi_w_per_100mas(
        spectrum,
        spec.sid_mm,
        spec.fan_half_angle_rad(),
        protocol.ctdi_phantom,
        Irradiation::Rotation,
    );
    let width = protocol.opened_collimation_mm(spec);
    DoseRecord::new(
        "axial",
        spectrum,
        mas,
        spec.rotation_time_s,
        width,
        width,
        spec.sid_mm,
        per_100,
        protocol.ctdi_phantom,
    )
}

/// The scanner's protocol of `t` over `range_mm` (one rotation: a range longer than the
/// widest beam is cut to its middle), checked against `spec`, with its planned dose.
pub fn planned(
    spec: &ScannerSpec,
    t: &Technique,
    range_mm: [f64; 2],
    isocenter_xy_mm: [f64; 2],
    seed: u64,
) -> Result<(Protocol, DoseRecord), MissionError> {
    let collimation = (range_mm[1] - range_mm[0]).min(spec.max_collimation_mm());
    let protocol = Protocol {
        mas: t.mas,
        views: t.views,
        collimation_mm: collimation,
        z_center_mm: 0.5 * (range_mm[0] + range_mm[1]),
        isocenter_xy_mm,
        ctdi_phantom: t.ctdi_phantom,
        seed,
        ..Protocol::standard_head()
    };
    protocol
        .validate(spec)
        .map_err(|e| MissionError::BadOrder(e.to_string()))?;
    let spectrum = Spectrum::tungsten(protocol.kvp, spec.filtration)
        .map_err(|e| MissionError::BadOrder(e.to_string()))?;
    let dose = dose_record(spec, &spectrum, &protocol, t.mas)
        .map_err(|e| MissionError::BadOrder(e.to_string()))?;
    Ok((protocol, dose))
}

/// The scanner's dose model for the dialogue: the CTDIvol of a protocol over its nominal
/// range; `None` for a body part or protocol this scanner has no technique for.
#[derive(Clone, Debug)]
pub struct ScannerDoses {
    spec: ScannerSpec,
}

impl ScannerDoses {
    /// The dose model of the scanner `spec`.
    pub fn new(spec: ScannerSpec) -> Self {
        Self { spec }
    }
}

impl DoseModel for ScannerDoses {
    fn planned_ctdivol(&self, body_part: BodyPart, protocol: SpokenProtocol) -> Option<Mgy> {
        // The order's names for them (DICOM's body part, the worklist's protocol).
        let protocol = match protocol {
            SpokenProtocol::Standard => "standard",
            SpokenProtocol::LowDose => "low dose",
            SpokenProtocol::SparseView => "sparse view",
        };
        let t = technique(&body_part.name().to_ascii_uppercase(), protocol).ok()?;
        let (_, dose) = planned(&self.spec, &t, t.nominal_range_mm, [0.0, 0.0], 1).ok()?;
        Some(dose.ctdi_vol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dialogue_hears_the_doses_the_chain_plans() {
        let doses = ScannerDoses::new(ScannerSpec::mobile_head());
        let spec = ScannerSpec::mobile_head();
        for (part, name) in [(BodyPart::Head, "HEAD"), (BodyPart::Chest, "CHEST")] {
            let standard = doses
                .planned_ctdivol(part, SpokenProtocol::Standard)
                .unwrap();
            let t = technique(name, "standard").unwrap();
            let (_, d) = planned(&spec, &t, t.nominal_range_mm, [0.0, 0.0], 7).unwrap();
            assert_eq!(standard, d.ctdi_vol, "{name}");
            // A quarter of the mAs is a quarter of the dose; sparse view a third of that.
            let low = doses
                .planned_ctdivol(part, SpokenProtocol::LowDose)
                .unwrap();
            let sparse = doses
                .planned_ctdivol(part, SpokenProtocol::SparseView)
                .unwrap();
            assert!((low.0 / standard.0 - 0.25).abs() < 1e-9, "{name} {low:?}");
            assert!(
                sparse.0 > 0.0 && sparse.0 <= low.0 + 1e-12,
                "{name} {sparse:?}"
            );
        }
        // A head in the 16 cm phantom gets more dose per mAs than a chest in the 32 cm one.
        assert!(
            doses.planned_ctdivol(BodyPart::Head, SpokenProtocol::Standard)
                > doses.planned_ctdivol(BodyPart::Chest, SpokenProtocol::Standard)
        );
        assert_eq!(
            doses.planned_ctdivol(BodyPart::Abdomen, SpokenProtocol::Standard),
            None
        );
    }

    #[test]
    fn unknown_orders_are_named() {
        let e = technique("KNEE", "standard").unwrap_err().to_string();
        assert!(e.contains("KNEE") && e.contains("HEAD or CHEST"), "{e}");
        let e = technique("HEAD", "ultra").unwrap_err().to_string();
        assert!(e.contains("ultra") && e.contains("sparse view"), "{e}");
    }
}
