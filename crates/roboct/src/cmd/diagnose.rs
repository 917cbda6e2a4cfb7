//! `roboct diagnose` (read a head CT: haemorrhage, midline shift) and `roboct bench
//! diagnosis` (the reader's accuracy on simulated cohorts).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use roboct_diagnosis::{
    Diagnosis, Frame, OnnxDetector, OnnxLayout, ReadOptions, ThresholdDetector,
};
use roboct_dicom::ct::{CtSeriesInfo, CtSeriesWriter, VoxelUnits};
use roboct_dicom::sr::{ImageRef, ReportWriter};
use roboct_dicom::study::StudyContext;
use roboct_dicom::uid::UidGenerator;
use roboct_geometry::{Volume, VolumeGrid};

use super::Context;

/// `roboct diagnose`.
#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// The head CT: a volume in HU (`.nii`, `.nii.gz`, `.mha`, `.mhd`, `.npy`) or a folder
    /// holding a DICOM CT series.
    input: PathBuf,
    /// Write the reading as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the report in words here (it is printed in any case).
    #[arg(long)]
    text: Option<PathBuf>,
    /// Write a key image per finding (blood window, finding outlined) into this folder.
    #[arg(long)]
    png: Option<PathBuf>,
    /// Write the findings SR and the key-object selection into this folder, referring to the
    /// input's images (a DICOM input) or to a CT series written there from the volume.
    #[arg(long)]
    dicom: Option<PathBuf>,
    /// Series Instance UID to read when the DICOM folder holds several.
    #[arg(long)]
    series: Option<String>,
    /// Voxel size x,y,z in mm of a `.npy` input (NumPy files hold no geometry).
    #[arg(long, value_delimiter = ',', num_args = 3)]
    spacing_mm: Option<Vec<f64>>,
    /// A site's validated ONNX model to find blood with, instead of the built-in detector.
    #[arg(long)]
    model: Option<PathBuf>,
    /// How the model sees the volume: `slices` ([1,1,rows,cols]) or `volume`
    /// ([1,1,slices,rows,cols]).
    #[arg(long, default_value = "slices")]
    model_layout: String,
    /// The model's input window, LEVEL,WIDTH in HU (mapped to 0..1).
    #[arg(long, value_delimiter = ',', num_args = 2, default_values_t = [40.0, 80.0])]
    model_window: Vec<f32>,
}

/// Where the volume came from, for frames and DICOM references.
enum Source {
    Volume {
        frame: Frame,
    },
    Dicom {
        scan: roboct_dicom::reader::FolderScan,
        series_uid: String,
    },
}

fn load(args: &DiagnoseArgs) -> Result<(Volume, Source)> {
    let p = &args.input;
    if p.is_dir() {
        let scan = roboct_dicom::reader::scan_folder(p)?;
        let (volume, summary) = scan.read_series(args.series.as_deref())?;
        if !summary.modality.is_empty() && summary.modality != "CT" {
            bail!(
                "series {} is {} (modality {}), not CT: only CT is read",
                summary.series_instance_uid,
                summary.description,
                summary.modality
            );
        }
        let uid = summary.series_instance_uid;
        return Ok((
            volume,
            Source::Dicom {
                scan,
                series_uid: uid,
            },
        ));
    }
    let name = p.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".npy") {
        let Some(s) = &args.spacing_mm else {
            bail!(
                "{}: a .npy file holds no voxel size; give it with --spacing-mm X,Y,Z",
                p.display()
            );
        };
        if !s.iter().all(|v| v.is_finite() && *v > 0.0) {
            bail!("--spacing-mm {s:?}: expected three sizes > 0 mm");
        }
        let data =
            roboct_io::read_array3(p).with_context(|| format!("cannot read {}", p.display()))?;
        let (nz, ny, nx) = data.dim();
        let grid = VolumeGrid::new([nx, ny, nz], [s[0], s[1], s[2]], [0.0; 3])?;
        return Ok((
            Volume::from_array(grid, data)?,
            Source::Volume { frame: Frame::Lps },
        ));
    }
    let volume =
        roboct_io::read_volume(p).with_context(|| format!("cannot read {}", p.display()))?;
    let frame = if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        Frame::Ras
    } else {
        Frame::Lps
    };
    Ok((volume, Source::Volume { frame }))
}

pub fn diagnose(args: DiagnoseArgs, _ctx: &Context) -> Result<()> {
    let (volume, source) = load(&args)?;
    let options = ReadOptions::default();
    let dx = match &args.model {
        Some(m) => {
            let layout = match args.model_layout.as_str() {
                "slices" => OnnxLayout::Slices,
                "volume" => OnnxLayout::Volume,
                other => bail!("--model-layout {other:?}: expected slices or volume"),
            };
            let detector =
                OnnxDetector::from_file(m, layout, (args.model_window[0], args.model_window[1]))?;
            roboct_diagnosis::diagnose_with(&volume, &detector, &options)
        }
        None => roboct_diagnosis::diagnose_with(&volume, &ThresholdDetector::default(), &options),
    };
    if let Some(dir) = &args.png {
        if dx.assessable {
            let paths = roboct_diagnosis::keyimage::write_key_images(&dx, dir)?;
            for p in paths {
                eprintln!("key image {}", p.display());
            }
        } else {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    if let Some(dir) = &args.dicom {
        write_dicom(&dx, &volume, &source, dir)?;
    }
    let frame = match &source {
        Source::Volume { frame } => *frame,
        Source::Dicom { .. } => Frame::Lps,
    };
    let dx = dx.in_frame(frame);
    let text = dx.text();
    print!("{text}");
    if let Some(p) = &args.text {
        std::fs::write(p, &text).with_context(|| format!("cannot write {}", p.display()))?;
    }
    if let Some(p) = &args.json {
        std::fs::write(p, dx.to_json()).with_context(|| format!("cannot write {}", p.display()))?;
    }
    // The report says why, and the exit status tells a script that nothing was read.
    if !dx.assessable {
        bail!(
            "{}: not assessable: {}",
            args.input.display(),
            dx.reason.as_deref().unwrap_or("unknown reason")
        );
    }
    Ok(())
}

fn write_dicom(dx: &Diagnosis, volume: &Volume, source: &Source, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let uids = UidGenerator::default();
    // The images the findings point at, one per slice of `volume`, and the study they are in.
    let (refs, study): (Vec<ImageRef>, StudyContext) = match source {
        Source::Dicom { scan, series_uid } => {
            let study = scan.context(series_uid).map_or_else(
                || StudyContext::unscheduled(&uids),
                |c| StudyContext::from_series(c, &uids),
            );
            (scan.slice_references(series_uid), study)
        }
        Source::Volume { .. } => {
            let study = StudyContext::unscheduled(&uids);
            let writer = CtSeriesWriter::new(study.clone(), CtSeriesInfo::new(&uids), uids.clone());
            let slices = writer.volume(volume, VoxelUnits::Hu)?;
            let mut refs = Vec::new();
            for (k, inst) in slices.iter().enumerate() {
                let p = dir.join(format!("CT{:06}.dcm", k + 1));
                std::fs::write(&p, &inst.bytes)
                    .with_context(|| format!("cannot write {}", p.display()))?;
                refs.push(inst.into());
            }
            (refs, study)
        }
    };
    let key_images = roboct_diagnosis::report::key_images(dx, volume.grid(), &refs);
    let report = roboct_diagnosis::report::findings_report_with_key_images(
        dx,
        "CT head without contrast, automated reading (roboct)",
        &key_images,
    );
    let writer = ReportWriter::new(study, uids);
    let sr = writer.findings_report(&report)?;
    let p = dir.join("SR_findings.dcm");
    std::fs::write(&p, &sr.bytes).with_context(|| format!("cannot write {}", p.display()))?;
    eprintln!("findings SR {}", p.display());
    let keys: Vec<ImageRef> = key_images.into_iter().flatten().collect();
    if !keys.is_empty() {
        let ko = writer.key_images(&keys, "Intracranial haemorrhage")?;
        let p = dir.join("KO_key_images.dcm");
        std::fs::write(&p, &ko.bytes).with_context(|| format!("cannot write {}", p.display()))?;
        eprintln!("key-object selection {}", p.display());
    }
    Ok(())
}

/// `roboct bench diagnosis`.
#[derive(Debug, Args)]
pub struct BenchDiagnosisArgs {
    /// Patients per cohort (half with bleeds, half clean).
    #[arg(long, default_value = "200")]
    patients: usize,
    /// Which cohorts: `both`, `test` or `development`.
    #[arg(long, default_value = "both")]
    cohort: String,
    /// Standard dose only (no 25% dose scan and iterative reconstruction).
    #[arg(long)]
    standard_only: bool,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
    /// Also write the per-patient rows (JSON lines) here.
    #[arg(long)]
    rows: Option<PathBuf>,
}

pub fn bench_diagnosis(args: BenchDiagnosisArgs, ctx: &Context) -> Result<()> {
    use roboct_bench::diagnosis::{BenchConfig, DEVELOPMENT_SEED_BASE, TEST_SEED_BASE, run};
    if args.patients < 2 {
        bail!(
            "--patients {}: expected at least 2 (half with bleeds, half clean)",
            args.patients
        );
    }
    let cohorts = super::cohorts(&args.cohort, DEVELOPMENT_SEED_BASE, TEST_SEED_BASE)?;
    let mut reports = Vec::new();
    for (name, base) in cohorts {
        let config = BenchConfig {
            name: name.into(),
            seed_base: base,
            patients: args.patients,
            low_dose: !args.standard_only,
            ..BenchConfig::default()
        };
        let bar = crate::progress::Bar::new(ctx.quiet);
        let report = run(&config, &bar, args.rows.as_deref())?;
        if !args.json {
            print!("{}", report.table());
        }
        reports.push(report);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(())
}
