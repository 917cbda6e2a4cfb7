//! What the reader reports: [`Diagnosis`] with its [`Finding`]s, as JSON (serde) and as a
//! text a physician can check, in the world frame the input came in.

use roboct_geometry::VolumeGrid;

/// Kinds of intracranial haemorrhage (names as in files: `intraparenchymal`...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// In the brain parenchyma.
    Intraparenchymal,
    /// Between the dura and the arachnoid: a crescent along the inner table.
    Subdural,
    /// Between the skull and the dura: a lens.
    Epidural,
    /// In the subarachnoid space: fissures, cisterns, sulci.
    Subarachnoid,
    /// In the ventricles.
    Intraventricular,
}

impl FindingKind {
    /// Every kind.
    pub const ALL: [FindingKind; 5] = [
        FindingKind::Intraparenchymal,
        FindingKind::Subdural,
        FindingKind::Epidural,
        FindingKind::Subarachnoid,
        FindingKind::Intraventricular,
    ];

    /// The name used in files.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Intraparenchymal => "intraparenchymal",
            FindingKind::Subdural => "subdural",
            FindingKind::Epidural => "epidural",
            FindingKind::Subarachnoid => "subarachnoid",
            FindingKind::Intraventricular => "intraventricular",
        }
    }

    /// The words of a report (`intraparenchymal haemorrhage`).
    pub fn words(self) -> &'static str {
        match self {
            FindingKind::Intraparenchymal => "intraparenchymal haemorrhage",
            FindingKind::Subdural => "subdural haematoma",
            FindingKind::Epidural => "epidural haematoma",
            FindingKind::Subarachnoid => "subarachnoid haemorrhage",
            FindingKind::Intraventricular => "intraventricular haemorrhage",
        }
    }
}

/// The patient's side of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The patient's left.
    Left,
    /// The patient's right.
    Right,
    /// On the midline (both sides).
    Midline,
}

impl Side {
    /// The name used in files.
    pub fn name(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
            Side::Midline => "midline",
        }
    }
}

/// One haemorrhage.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// Kind.
    pub kind: FindingKind,
    /// Volume, mL.
    pub volume_ml: f64,
    /// Centroid, mm, in the report's frame ([`Diagnosis::frame`]).
    pub centroid_mm: [f64; 3],
    /// Side.
    pub side: Side,
    /// Region in words (`left frontal convexity`, `right basal ganglia`...).
    pub region: String,
    /// Largest thickness (extra-axial: from the inner table; otherwise the largest diameter
    /// of a ball that fits in it), mm.
    pub max_thickness_mm: f64,
    /// Mean CT number, HU.
    pub mean_hu: f64,
    /// How sure the reader is, 0 to 1: a heuristic from contrast over noise and size, not a
    /// calibrated probability (the benchmark measures the reader's accuracy).
    pub confidence: f64,
    /// The axial slice that shows most of it: its index on the reading grid.
    pub key_slice: usize,
    /// The world position of that slice's centre along the slice normal, mm (in the report's
    /// frame).
    pub key_slice_center_mm: [f64; 3],
}

/// Time spent in one phase of the reading.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Phase {
    /// Name.
    pub name: String,
    /// Seconds.
    pub seconds: f64,
}

/// The calibration check.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    /// Air outside the head, HU (expected about -1000); `None` when the image holds no air.
    pub air_hu: Option<f64>,
    /// CSF in the ventricles, HU (expected about 0 to 15).
    pub csf_hu: Option<f64>,
    /// White matter, HU (smoothed).
    pub white_matter_hu: Option<f64>,
    /// Grey matter, HU (smoothed).
    pub grey_matter_hu: Option<f64>,
    /// Noise of single voxels in the brain, HU (one standard deviation).
    pub noise_hu: Option<f64>,
}

/// Segmentation of the findings on the reading grid, for key images and scoring.
#[derive(Clone, Debug, PartialEq)]
pub struct FindingMasks {
    /// The reading grid (in the input's world frame).
    pub grid: VolumeGrid,
    /// Per voxel `[z][y][x]` of the grid: 0 for none, `i + 1` for finding `i`.
    pub labels: Vec<u16>,
    /// The reading grid's HU (for key images).
    pub hu: Vec<f32>,
}

/// The frame every coordinate of a report is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Frame {
    /// DICOM's patient frame: +x the patient's left, +y posterior, +z superior.
    #[serde(rename = "LPS")]
    Lps,
    /// NIfTI's: +x the patient's right, +y anterior, +z superior (`x_ras = -x_lps`,
    /// `y_ras = -y_lps`).
    #[serde(rename = "RAS")]
    Ras,
}

/// The reading of one head CT.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Diagnosis {
    /// Whether the image could be read as a head CT. When false, `reason` says why and
    /// nothing else is reported.
    pub assessable: bool,
    /// Why the image is not assessable.
    pub reason: Option<String>,
    /// Things the reader should know (calibration off, brain cut by the scan range...).
    pub warnings: Vec<String>,
    /// The haemorrhages found, largest first.
    pub findings: Vec<Finding>,
    /// Shift of the septum pellucidum from the midline, mm (positive: towards the
    /// patient's left).
    pub midline_shift_mm: Option<f64>,
    /// Volume of the ventricles (CSF and any blood in them), mL.
    pub ventricle_volume_ml: Option<f64>,
    /// The calibration check.
    pub calibration: Calibration,
    /// The detector that found the blood.
    pub detector: String,
    /// Seconds for the whole reading.
    pub time_s: f64,
    /// Seconds per phase.
    pub phases: Vec<Phase>,
    /// The frame of every coordinate.
    pub frame: Frame,
    /// Spacing of the reading grid (x, y, z), mm.
    pub reading_voxel_mm: Option<[f64; 3]>,
    /// The segmentation (not serialized).
    #[serde(skip)]
    pub masks: Option<FindingMasks>,
}

impl Diagnosis {
    /// A reading that stops with `reason`.
    pub fn not_assessable(reason: impl Into<String>, time_s: f64) -> Self {
        Self {
            assessable: false,
            reason: Some(reason.into()),
            warnings: Vec::new(),
            findings: Vec::new(),
            midline_shift_mm: None,
            ventricle_volume_ml: None,
            calibration: Calibration {
                air_hu: None,
                csf_hu: None,
                white_matter_hu: None,
                grey_matter_hu: None,
                noise_hu: None,
            },
            detector: String::new(),
            time_s,
            phases: Vec::new(),
            frame: Frame::Lps,
            reading_voxel_mm: None,
            masks: None,
        }
    }

    /// Whether any haemorrhage was found.
    pub fn positive(&self) -> bool {
        !self.findings.is_empty()
    }

    /// The same reading with its coordinates in `frame` (from LPS, in which the reader
    /// works; NIfTI's RAS negates x and y).
    pub fn in_frame(mut self, frame: Frame) -> Self {
        if frame != self.frame {
            for f in &mut self.findings {
                for p in [&mut f.centroid_mm, &mut f.key_slice_center_mm] {
                    p[0] = -p[0];
                    p[1] = -p[1];
                }
            }
            self.frame = frame;
        }
        self
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a diagnosis serializes")
    }

    /// The report in words, for a physician to check.
    pub fn text(&self) -> String {
        let mut s = String::new();
        s.push_str("AUTOMATED HEAD CT READING (roboct; for review by a physician)\n");
        if !self.assessable {
            s.push_str(&format!(
                "NOT ASSESSABLE: {}\n",
                self.reason.as_deref().unwrap_or("unknown reason")
            ));
            return s;
        }
        for w in &self.warnings {
            s.push_str(&format!("WARNING: {w}\n"));
        }
        if self.findings.is_empty() {
            s.push_str("Findings: no intracranial haemorrhage detected.\n");
        } else {
            s.push_str(&format!(
                "Findings: {} intracranial haemorrhage{} detected.\n",
                self.findings.len(),
                if self.findings.len() == 1 { "" } else { "s" }
            ));
            for (i, f) in self.findings.iter().enumerate() {
                s.push_str(&format!(
                    "  {}. {} {}, {}: {:.1} mL, max thickness {:.1} mm, mean {:.0} HU, confidence {:.2}; centroid ({:.1}, {:.1}, {:.1}) mm {:?}; key slice {}\n",
                    i + 1,
                    capitalize(f.side.name()),
                    f.kind.words(),
                    f.region,
                    f.volume_ml,
                    f.max_thickness_mm,
                    f.mean_hu,
                    f.confidence,
                    f.centroid_mm[0],
                    f.centroid_mm[1],
                    f.centroid_mm[2],
                    self.frame,
                    f.key_slice
                ));
            }
        }
        match self.midline_shift_mm {
            Some(m) => s.push_str(&format!(
                "Midline shift: {:.1} mm{}\n",
                m.abs(),
                if m.abs() < 0.5 {
                    String::new()
                } else {
                    format!(
                        " towards the patient's {}",
                        if m > 0.0 { "left" } else { "right" }
                    )
                }
            )),
            None => s.push_str("Midline shift: not measurable.\n"),
        }
        if let Some(v) = self.ventricle_volume_ml {
            s.push_str(&format!("Ventricle volume: {v:.0} mL\n"));
        }
        let c = &self.calibration;
        let fmt = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.0} HU"));
        s.push_str(&format!(
            "Calibration: air {}, CSF {}, white matter {}, grey matter {}, noise {}\n",
            fmt(c.air_hu),
            fmt(c.csf_hu),
            fmt(c.white_matter_hu),
            fmt(c.grey_matter_hu),
            fmt(c.noise_hu)
        ));
        s.push_str(&format!(
            "Read in {:.2} s by the {} detector. Coordinates in {:?}.\n",
            self.time_s, self.detector, self.frame
        ));
        s
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}
