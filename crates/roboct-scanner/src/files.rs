//! What a simulated scan leaves on disk, beside its projections `P` (`.npy` or `.mha`):
//!
//! | file | what |
//! | --- | --- |
//! | `P` | line integrals of mu at the reference energy, `[view][row][col]` |
//! | `P.toml` (the stem's `.toml`) | the geometry, with the patient's grid as `[volume]` |
//! | stem`.weights` + extension | the statistical weight of every line integral (PWLS) |
//! | stem`.dose.json` | the [`DoseRecord`] |
//! | stem`.scan.json` | the [`ScanRecord`]: protocol, scanner, units, the files above |
//!
//! `roboct recon` reads the scan record to write HU and to find the weights; without it the
//! projections are plain line integrals and the output stays in 1/mm.

use std::path::{Path, PathBuf};

use ndarray::Array3;
use roboct_geometry::{ScanGeometry, VolumeGrid};
use roboct_io::{DetectorSampling, IoError, ProjectionStack};

use crate::acquire::SimulatedScan;
use crate::dose::DoseRecord;
use crate::protocol::{Protocol, ScannerSpec};

/// Why scan files could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanFileError {
    /// A data file failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A text file could not be written or read.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

/// The record of a simulated scan, `<stem>.scan.json`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScanRecord {
    /// Format tag.
    pub format: String,
    /// What the projections hold.
    pub units: String,
    /// mu of water (1/mm) at the reference energy: a reconstruction in 1/mm is
    /// `1000 (mu - mu_water) / mu_water` HU (air 0).
    pub mu_water_per_mm: f64,
    /// The reference energy, keV.
    pub reference_kev: f64,
    /// The patient scanned (phantom name and seed, or the file).
    pub patient: String,
    /// The protocol.
    pub protocol: Protocol,
    /// The scanner.
    pub scanner: ScannerSpec,
    /// mAs of each view.
    pub mas_per_view: Vec<f64>,
    /// The files beside the projections (names relative to their folder).
    pub geometry_file: String,
    /// The weights file.
    pub weights_file: String,
    /// The dose record file.
    pub dose_file: String,
}

impl ScanRecord {
    /// A reconstruction in 1/mm turned into HU against this scan's water: water 0, air -1000.
    pub fn to_hu(&self, mut volume: roboct_geometry::Volume) -> roboct_geometry::Volume {
        let mu_w = self.mu_water_per_mm as f32;
        volume
            .data_mut()
            .mapv_inplace(|v| 1000.0 * (v - mu_w) / mu_w);
        volume
    }
}

/// The format tag of scan records.
pub const SCAN_RECORD_FORMAT: &str = "roboct-scan/1";

/// The sidecar paths of projections `p`: (geometry, weights, dose, scan record).
pub fn sidecars(p: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("scan");
    let stem = stem.strip_suffix(".nii").unwrap_or(stem);
    let ext = p.extension().and_then(|s| s.to_str()).unwrap_or("npy");
    let dir = p.parent().unwrap_or(Path::new(""));
    (
        dir.join(format!("{stem}.toml")),
        dir.join(format!("{stem}.weights.{ext}")),
        dir.join(format!("{stem}.dose.json")),
        dir.join(format!("{stem}.scan.json")),
    )
}

fn write_text(path: &Path, text: &str) -> Result<(), ScanFileError> {
    std::fs::write(path, text).map_err(|e| ScanFileError::File {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

fn json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), ScanFileError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ScanFileError::File {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    write_text(path, &text)
}

fn stack(data: Array3<f32>, g: &ScanGeometry) -> ProjectionStack {
    let d = g.detector();
    ProjectionStack {
        data,
        detector: Some(DetectorSampling {
            pixel_mm: d.pixel_mm,
            origin_mm: d.origin_mm,
        }),
    }
}

/// Writes `scan` as projections at `path` and its sidecars, the geometry's `[volume]` being
/// `grid` (the patient's own grid for a volume patient, so a reconstruction compares with it
/// voxel for voxel). Returns the record.
pub fn write_scan(
    path: &Path,
    scan: &SimulatedScan,
    spec: &ScannerSpec,
    protocol: &Protocol,
    grid: &VolumeGrid,
    patient: &str,
) -> Result<ScanRecord, ScanFileError> {
    let (geometry_path, weights_path, dose_path, record_path) = sidecars(path);
    roboct_io::write_projections(path, &stack(scan.projections.clone(), &scan.geometry))?;
    roboct_io::write_projections(&weights_path, &stack(scan.weights.clone(), &scan.geometry))?;
    let (circular, isocenter) = protocol
        .circular_scan(spec)
        .map_err(|e| ScanFileError::File {
            path: geometry_path.clone(),
            why: e.to_string(),
        })?;
    write_text(
        &geometry_path,
        &roboct_geometry::scan_toml(&circular, isocenter, Some(grid)),
    )?;
    json(&dose_path, &scan.dose)?;
    let name = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string()
    };
    let record = ScanRecord {
        format: SCAN_RECORD_FORMAT.into(),
        units: "line integrals of mu at the reference energy (1/mm x mm), water beam-hardening corrected".into(),
        mu_water_per_mm: scan.mu_water_per_mm,
        reference_kev: crate::physics::REFERENCE_KEV,
        patient: patient.into(),
        protocol: protocol.clone(),
        scanner: spec.clone(),
        mas_per_view: scan.mas_per_view.clone(),
        geometry_file: name(&geometry_path),
        weights_file: name(&weights_path),
        dose_file: name(&dose_path),
    };
    json(&record_path, &record)?;
    Ok(record)
}

/// What a scan of `name` written to `out` (with [`write_scan`], which gave `record`) was: the
/// protocol, the dose and the files; three lines, each ending in a newline.
pub fn scan_summary(
    name: &str,
    out: &Path,
    scan: &SimulatedScan,
    protocol: &Protocol,
    record: &ScanRecord,
) -> String {
    let d = &scan.dose;
    let phantom = match d.ctdi_phantom {
        crate::CtdiPhantom::Head16 => "16 cm head",
        crate::CtdiPhantom::Body32 => "32 cm body",
    };
    let scan_record = sidecars(out).3;
    let scan_record = scan_record
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    format!(
        "scanned {name}: {} kV, {:.0} mAs, {} views over {} deg, {:.0} mm beam at z = {:.1} mm\n\
         dose: CTDIvol {:.2} ({phantom} phantom), DLP {:.1}\n\
         wrote {} {:?} (views, rows, cols) with {}, {}, {} and {scan_record} beside it ({:.1} s projecting, {:.1} s detector)\n",
        protocol.kvp,
        d.mas,
        protocol.views,
        protocol.arc_deg,
        d.collimation_mm,
        protocol.z_center_mm,
        d.ctdi_vol,
        d.dlp,
        out.display(),
        scan.projections.dim(),
        record.geometry_file,
        record.weights_file,
        record.dose_file,
        scan.times_s.0,
        scan.times_s.1
    )
}

/// The scan record beside projections `path`, if there is one; an error if it is there but
/// unreadable.
pub fn read_scan_record(path: &Path) -> Result<Option<ScanRecord>, ScanFileError> {
    let (_, _, _, record_path) = sidecars(path);
    if !record_path.exists() {
        return Ok(None);
    }
    let bad = |why: String| ScanFileError::File {
        path: record_path.clone(),
        why,
    };
    let text = std::fs::read_to_string(&record_path).map_err(|e| bad(e.to_string()))?;
    let r: ScanRecord =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a scan record: {e}")))?;
    if r.format != SCAN_RECORD_FORMAT {
        return Err(bad(format!(
            "format {:?}; expected {SCAN_RECORD_FORMAT:?}",
            r.format
        )));
    }
    if !(r.mu_water_per_mm > 0.0 && r.mu_water_per_mm.is_finite()) {
        return Err(bad(format!(
            "mu_water_per_mm {}; expected > 0",
            r.mu_water_per_mm
        )));
    }
    Ok(Some(r))
}

/// The dose record beside projections `path`.
pub fn read_dose_record(path: &Path) -> Result<DoseRecord, ScanFileError> {
    let (_, _, dose_path, _) = sidecars(path);
    let bad = |why: String| ScanFileError::File {
        path: dose_path.clone(),
        why,
    };
    let text = std::fs::read_to_string(&dose_path).map_err(|e| bad(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| bad(format!("not a dose record: {e}")))
}

/// Writes a phantom's truth: `truth.json` at `path` and, per finding, a binary mask (voxels at
/// least half filled) `finding-N` beside it with the extension of `volume_ext`.
pub fn write_truth(
    path: &Path,
    truth: &mut roboct_phantom::truth::Truth,
    raster: &roboct_phantom::patient::Raster,
    volume_ext: &str,
) -> Result<(), ScanFileError> {
    let dir = path.parent().unwrap_or(Path::new(""));
    for (i, f) in raster.finding_fractions.iter().enumerate() {
        let name = format!("finding-{}.{volume_ext}", i + 1);
        let mask = f.mapv(|v| if v >= 0.5 { 1.0f32 } else { 0.0 });
        let vol = roboct_geometry::Volume::from_array(raster.hu.grid().clone(), mask)
            .expect("the raster's own grid");
        roboct_io::write_volume(&dir.join(&name), &vol)?;
        if let Some(rec) = truth.findings.get_mut(i) {
            rec.mask = Some(name);
        }
    }
    json(path, truth)
}

impl roboct_core::Recover for ScanFileError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            ScanFileError::Io(e) => roboct_core::Recover::recovery(e),
            ScanFileError::File { .. } => roboct_core::Recovery::Abort,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roboct_geometry::Volume;

    #[test]
    fn water_is_zero_hu_and_air_minus_1000() {
        let record = ScanRecord {
            format: SCAN_RECORD_FORMAT.into(),
            units: "line integrals of mu, 1/mm".into(),
            mu_water_per_mm: 0.02,
            reference_kev: 70.0,
            patient: "test".into(),
            protocol: Protocol::standard_head(),
            scanner: ScannerSpec::mobile_head(),
            mas_per_view: Vec::new(),
            geometry_file: String::new(),
            weights_file: String::new(),
            dose_file: String::new(),
        };
        let grid = VolumeGrid::centered([3, 1, 1], [1.0; 3], [0.0; 3]).unwrap();
        let mu = ndarray::Array3::from_shape_vec((1, 1, 3), vec![0.0, 0.02, 0.04]).unwrap();
        let hu = record.to_hu(Volume::from_array(grid, mu).unwrap());
        let v: Vec<f32> = hu.data().iter().copied().collect();
        assert_eq!(v, vec![-1000.0, 0.0, 1000.0]);
    }
}
