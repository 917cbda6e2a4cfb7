//! CT commands: `phantom`, `project`, `recon`, `bench recon` and (for now) `demo`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use roboct_bench::recon::{self, Problem};
use roboct_core::CancelToken;
use roboct_geometry::{GeometryFile, ScanGeometry, Volume, VolumeGrid, default_volume};
use roboct_io::{DetectorSampling, ProjectionStack, Window as Display};
use roboct_phantom::Phantom;
use roboct_recon::{AnalyticOptions, Filter, ReconReport, Window};

use super::Context;
use crate::progress::Bar;

/// Grid flags: ours (`--size`, `--voxel-mm`, `--center-mm`) or RTK's (`--dimension`,
/// `--spacing`, `--origin`, in RTK's frame for RTK geometries).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GridArgs {
    /// Volume size in voxels: x,y,z (x,y for 2D scans).
    #[arg(long, value_delimiter = ',', conflicts_with = "dimension")]
    size: Option<Vec<usize>>,
    /// Voxel size in mm: one number or x,y,z.
    #[arg(long, value_delimiter = ',', conflicts_with = "spacing")]
    voxel_mm: Option<Vec<f64>>,
    /// Centre of the volume in mm: x,y,z.
    #[arg(
        long,
        value_delimiter = ',',
        conflicts_with = "origin",
        allow_hyphen_values = true
    )]
    center_mm: Option<Vec<f64>>,
    /// RTK's --dimension: voxels x,y,z.
    #[arg(long, value_delimiter = ',')]
    dimension: Option<Vec<usize>>,
    /// RTK's --spacing: voxel size x,y,z in mm.
    #[arg(long, value_delimiter = ',')]
    spacing: Option<Vec<f64>>,
    /// RTK's --origin: centre of the first voxel x,y,z in mm (default: centred volume).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    origin: Option<Vec<f64>>,
}

fn three<T: Copy>(v: &[T], flag: &str, two_d_fill: Option<T>) -> Result<[T; 3]> {
    match (v.len(), two_d_fill) {
        (1, _) => Ok([v[0]; 3]),
        (3, _) => Ok([v[0], v[1], v[2]]),
        (2, Some(z)) => Ok([v[0], v[1], z]),
        (n, _) => bail!(
            "--{flag} has {n} values; expected 3 (x,y,z){}",
            if two_d_fill.is_some() {
                " or 2 (x,y)"
            } else {
                ""
            }
        ),
    }
}

impl GridArgs {
    /// The grid from the flags, else `fallback`.
    fn resolve(
        &self,
        is_2d: bool,
        fallback: impl FnOnce() -> Result<VolumeGrid>,
    ) -> Result<VolumeGrid> {
        let any_ours = self.size.is_some() || self.voxel_mm.is_some() || self.center_mm.is_some();
        let any_rtk = self.dimension.is_some() || self.spacing.is_some() || self.origin.is_some();
        if !any_ours && !any_rtk {
            return fallback();
        }
        let base = fallback().ok();
        if any_rtk {
            let size = match &self.dimension {
                Some(d) => three(d, "dimension", None)?,
                None => base
                    .as_ref()
                    .map(|g| g.size())
                    .context("--spacing/--origin need --dimension")?,
            };
            let spacing = match &self.spacing {
                Some(s) => three(s, "spacing", None)?,
                None => [1.0; 3],
            };
            return Ok(match &self.origin {
                Some(o) => VolumeGrid::new(size, spacing, three(o, "origin", None)?)?,
                None => VolumeGrid::centered(size, spacing, [0.0; 3])?,
            });
        }
        let fill = is_2d.then_some(1usize);
        let size = match &self.size {
            Some(s) => three(s, "size", fill)?,
            None => base
                .as_ref()
                .map(|g| g.size())
                .context("--voxel-mm/--center-mm need --size (or a [volume] in the geometry)")?,
        };
        let voxel = match &self.voxel_mm {
            Some(v) => three(v, "voxel-mm", is_2d.then(|| v[0]))?,
            None => base.as_ref().map(|g| g.spacing_mm()).unwrap_or([1.0; 3]),
        };
        let center = match &self.center_mm {
            Some(c) => three(c, "center-mm", is_2d.then_some(0.0))?,
            None => base.as_ref().map(|g| g.center_mm()).unwrap_or([0.0; 3]),
        };
        Ok(VolumeGrid::centered(size, voxel, center)?)
    }
}

/// `roboct phantom`: an analytic phantom, sampled on a grid and/or projected exactly.
#[derive(Debug, clap::Args)]
pub struct PhantomArgs {
    /// shepp-logan-2d, shepp-logan-3d (Kak & Slaney), shepp-logan-3d-odl, or a TOML file of
    /// [[ellipsoid]] entries.
    #[arg(long, default_value = "shepp-logan-3d")]
    phantom: String,
    /// Half-size in mm that Shepp-Logan's [-1, 1] maps to.
    #[arg(long, default_value_t = 100.0)]
    half_size_mm: f64,
    /// Shepp-Logan intensities times this give mu in 1/mm.
    #[arg(long, default_value_t = 0.02)]
    mu_scale: f64,
    /// Use the 1974 intensities instead of the modified (higher-contrast) ones.
    #[arg(long)]
    original: bool,
    /// Geometry file (.toml): its [volume] is the grid, and --projections follow its scan.
    #[arg(long)]
    geometry: Option<PathBuf>,
    #[command(flatten)]
    grid: GridArgs,
    /// Write the phantom sampled on the grid (.nii, .nii.gz, .mha, .npy).
    #[arg(long)]
    volume: Option<PathBuf>,
    /// Write its exact projections (.npy, .mha).
    #[arg(long)]
    projections: Option<PathBuf>,
    /// Points per voxel edge (volume) and rays per pixel edge (projections).
    #[arg(long, default_value_t = 1)]
    supersample: usize,
    /// The simulated adult head in HU instead (brain, ventricles, skull, face; haemorrhages
    /// with --bleed): --volume is in HU, --projections are its exact line integrals at 70 keV.
    #[arg(long, conflicts_with = "chest")]
    head: bool,
    /// The simulated adult chest in HU instead.
    #[arg(long)]
    chest: bool,
    #[command(flatten)]
    patient: super::scanner::PatientArgs,
    /// With --head/--chest: where to write the truth (default: truth.json beside --volume),
    /// with a mask per finding beside it.
    #[arg(long)]
    truth: Option<PathBuf>,
}

fn read_geometry(
    path: &Path,
    sampling: Option<DetectorSampling>,
    cols_rows: Option<(usize, usize)>,
) -> Result<GeometryFile> {
    let sampling = match (sampling, cols_rows) {
        (Some(s), Some((cols, rows))) => Some((cols, rows, s.pixel_mm, s.origin_mm)),
        _ => None,
    };
    Ok(GeometryFile::read(path, sampling)?)
}

pub fn phantom(args: PhantomArgs, ctx: &Context) -> Result<()> {
    if args.volume.is_none() && args.projections.is_none() {
        bail!("nothing to write: give --volume and/or --projections");
    }
    let anatomy = match (
        args.head || args.phantom == "head",
        args.chest || args.phantom == "chest",
    ) {
        (true, _) => Some(super::scanner::Anatomy::Head),
        (_, true) => Some(super::scanner::Anatomy::Chest),
        _ => None,
    };
    if let Some(anatomy) = anatomy {
        return patient_phantom(anatomy, &args, ctx);
    }
    let phantom = Phantom::named(
        &args.phantom,
        args.half_size_mm,
        args.mu_scale,
        args.original,
    )?;
    let geometry = match &args.geometry {
        Some(g) => Some(
            read_geometry(g, None, None)
                .with_context(|| format!("reading geometry {}", g.display()))?,
        ),
        None => None,
    };
    if let Some(out) = &args.volume {
        let is_2d = geometry.as_ref().is_some_and(|g| g.is_2d) || args.phantom == "shepp-logan-2d";
        let grid = args.grid.resolve(is_2d, || match &geometry {
            Some(g) => match &g.volume {
                Some(v) => Ok(v.clone()),
                None => Ok(default_volume(&g.scan, g.is_2d)?),
            },
            None => {
                bail!("give --geometry or --size/--voxel-mm to say where to sample the phantom")
            }
        })?;
        let volume = phantom.rasterize(&grid, args.supersample);
        roboct_io::write_volume(out, &volume)
            .with_context(|| format!("writing {}", out.display()))?;
        println!(
            "wrote {} ({:?} voxels of {:?} mm)",
            out.display(),
            grid.size(),
            grid.spacing_mm()
        );
    }
    if let Some(out) = &args.projections {
        let g = geometry
            .as_ref()
            .context("--projections needs --geometry")?;
        let bar = Bar::new(ctx.quiet);
        let data = phantom.project(&g.scan, args.supersample, &bar);
        write_stack(out, data, &g.scan)?;
        println!(
            "wrote {} ({:?} views x rows x cols, exact line integrals)",
            out.display(),
            g.scan.projection_shape()
        );
    }
    Ok(())
}

/// `roboct phantom --head|--chest`: the patient in HU on a grid, its truth, and its exact
/// monochromatic projections at the HU reference energy.
fn patient_phantom(
    anatomy: super::scanner::Anatomy,
    args: &PhantomArgs,
    ctx: &Context,
) -> Result<()> {
    let made = super::scanner::make_patient(anatomy, &args.patient)?;
    let geometry = match &args.geometry {
        Some(g) => Some(
            read_geometry(g, None, None)
                .with_context(|| format!("reading geometry {}", g.display()))?,
        ),
        None => None,
    };
    if let Some(out) = &args.volume {
        let grid = args.grid.resolve(false, || match &geometry {
            Some(g) => match &g.volume {
                Some(v) => Ok(v.clone()),
                None => Ok(default_volume(&g.scan, g.is_2d)?),
            },
            None => Ok(made.default_grid.clone()),
        })?;
        let truth = super::scanner::write_patient(
            &made,
            &grid,
            out,
            args.truth.as_deref(),
            args.supersample,
        )?;
        println!(
            "wrote {} ({}, {:?} voxels of {:?} mm, HU at 70 keV) and its truth {}",
            out.display(),
            made.name,
            grid.size(),
            grid.spacing_mm(),
            truth.display()
        );
        for f in &made.truth.findings {
            println!(
                "  {} {:?}: {:.2} mL at ({:.1}, {:.1}, {:.1}) mm, {:.0} HU",
                f.kind.name(),
                f.side,
                f.volume_ml,
                f.centroid_mm[0],
                f.centroid_mm[1],
                f.centroid_mm[2],
                f.hu
            );
        }
    }
    if let Some(out) = &args.projections {
        let g = geometry
            .as_ref()
            .context("--projections needs --geometry")?;
        let bar = Bar::new(ctx.quiet);
        let data = made.patient.project_mono(
            &g.scan,
            roboct_phantom::material::HU_REFERENCE_KEV,
            args.supersample,
            &bar,
        );
        write_stack(out, data, &g.scan)?;
        println!(
            "wrote {} ({:?} views x rows x cols, exact line integrals of mu at 70 keV)",
            out.display(),
            g.scan.projection_shape()
        );
    }
    Ok(())
}

fn write_stack(path: &Path, data: ndarray::Array3<f32>, scan: &ScanGeometry) -> Result<()> {
    let stack = ProjectionStack::for_detector(data, scan.detector());
    roboct_io::write_projections(path, &stack)
        .with_context(|| format!("writing {}", path.display()))
}

/// `roboct project`: forward projection of a volume (Joseph's method).
#[derive(Debug, clap::Args)]
pub struct ProjectArgs {
    /// Geometry file (.toml, or RTK's .xml with --detector-like projections given by --like).
    #[arg(long)]
    geometry: PathBuf,
    /// Volume to project (.nii, .nii.gz, .mha); its grid places it.
    #[arg(long)]
    volume: PathBuf,
    /// Output projections (.npy, .mha).
    #[arg(long)]
    out: PathBuf,
    /// For RTK geometries: a projection stack (.mha) whose header gives the detector.
    #[arg(long)]
    like: Option<PathBuf>,
}

pub fn project(args: ProjectArgs, ctx: &Context) -> Result<()> {
    let (sampling, cols_rows) = match &args.like {
        Some(p) => {
            let s = roboct_io::read_projections(p)?;
            let (_, rows, cols) = s.data.dim();
            (s.detector, Some((cols, rows)))
        }
        None => (None, None),
    };
    let g = read_geometry(&args.geometry, sampling, cols_rows)?;
    let volume = roboct_io::read_volume(&args.volume)?;
    let bar = Bar::new(ctx.quiet);
    let start = Instant::now();
    let data = roboct_recon::forward_project(&g.scan, &volume, &bar)
        .with_context(|| format!("projecting {}", args.volume.display()))?;
    write_stack(&args.out, data, &g.scan)?;
    println!(
        "wrote {} ({:?}) in {:.2} s",
        args.out.display(),
        g.scan.projection_shape(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The reconstruction algorithms of `roboct recon`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Algorithm {
    /// Filtered back-projection: parallel beams (2D, 3D) and fan beams.
    Fbp,
    /// Feldkamp-Davis-Kress: circular cone beams.
    Fdk,
    /// SIRT (Gilbert 1972), any geometry.
    Sirt,
    /// OS-SART: SART over ordered subsets of views (Andersen & Kak 1984; Hudson & Larkin 1994).
    OsSart,
    /// CGLS: conjugate gradients on the normal equations.
    Cgls,
    /// FISTA with total variation (Beck & Teboulle 2009): sparse views.
    FistaTv,
    /// Penalised weighted least squares with per-ray weights from --weights (Fessler 1994).
    Pwls,
}

impl Algorithm {
    /// The iterative method, for the iterative algorithms.
    fn iterative(self) -> Option<roboct_recon::IterativeMethod> {
        use roboct_recon::IterativeMethod as M;
        match self {
            Algorithm::Fbp | Algorithm::Fdk => None,
            Algorithm::Sirt => Some(M::Sirt),
            Algorithm::OsSart => Some(M::OsSart),
            Algorithm::Cgls => Some(M::Cgls),
            Algorithm::FistaTv => Some(M::FistaTv),
            Algorithm::Pwls => Some(M::Pwls),
        }
    }
}

/// Options of the iterative algorithms (`roboct recon --algorithm sirt|os-sart|cgls|fista-tv|pwls`).
#[derive(Debug, Clone, clap::Args)]
pub struct IterativeArgs {
    /// Iterations (passes over all views), at least 1.
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    iterations: i64,
    /// Stop early once |b - Ax| / |b| is at most this (0: run every iteration).
    #[arg(long, default_value_t = 0.0)]
    tolerance: f64,
    /// OS-SART: subsets of views.
    #[arg(long, default_value_t = 10)]
    subsets: usize,
    /// SIRT and OS-SART: relaxation, in (0, 2).
    #[arg(long, default_value_t = 1.0)]
    relaxation: f32,
    /// FISTA-TV: the TV weight in the volume's unit (1/mm); more smooths more.
    #[arg(long, default_value_t = roboct_recon::IterativeOptions::new(roboct_recon::IterativeMethod::FistaTv).tv_weight)]
    tv_weight: f32,
    /// FISTA-TV: inner iterations of the TV step.
    #[arg(long, default_value_t = 10)]
    tv_iterations: usize,
    /// PWLS: per-ray statistical weights (detected counts), same shape as the projections
    /// (.npy or .mha).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// PWLS: roughness penalty relative to the data term's largest curvature (0: none).
    #[arg(long, default_value_t = 0.0)]
    pwls_beta: f32,
    /// Start from: zero, fdk (FBP/FDK of the same projections; circular scans) or a volume file.
    #[arg(long, default_value = "zero")]
    warm_start: String,
    /// Allow negative values (default: the volume is kept >= 0).
    #[arg(long)]
    no_nonneg: bool,
}

/// `roboct recon`: analytic (FBP, FDK) or iterative reconstruction.
#[derive(Debug, clap::Args)]
pub struct ReconArgs {
    /// Geometry: roboct TOML, or RTK XML (then the projections must be MetaImage).
    #[arg(long)]
    geometry: PathBuf,
    /// Projections [view][row][col], line integrals of mu in 1/mm: .npy or .mha/.mhd.
    #[arg(long)]
    projections: PathBuf,
    /// fbp (parallel and fan beams), fdk (cone beams), or an iterative method on any geometry:
    /// sirt, os-sart, cgls, fista-tv, pwls.
    #[arg(long, value_enum)]
    algorithm: Algorithm,
    #[command(flatten)]
    iterative: IterativeArgs,
    /// Ramp filter window: ram-lak, shepp-logan, cosine, hamming, hann.
    #[arg(long, default_value = "ram-lak")]
    filter: String,
    /// Filter cut-off as a fraction of the Nyquist frequency, in (0, 1].
    #[arg(long, default_value_t = 1.0)]
    cutoff: f64,
    /// Output volume: .nii, .nii.gz, .mha, .mhd or .npy (the extension picks the format).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    grid: GridArgs,
    /// Slices per slab (the unit of streaming).
    #[arg(long, default_value_t = AnalyticOptions::default().slab_thickness)]
    slab: usize,
    /// Also write PNG previews of the central slices into this folder.
    #[arg(long)]
    png: Option<PathBuf>,
    /// The previews' window as WIDTH,LEVEL in the volume's unit (e.g. `80,40` for the brain
    /// and `1500,-600` for the lung in HU); default: the volume's range.
    #[arg(long, value_name = "WIDTH,LEVEL", value_parser = parse_window, allow_hyphen_values = true)]
    window: Option<Display>,
    /// Output units: `hu` when the projections come with a scan record from `roboct
    /// simulate-scan` (its water attenuation converts), `mu` (1/mm) otherwise; `auto` picks.
    #[arg(long, value_enum, default_value_t = Units::Auto)]
    units: Units,
}

/// Units of a reconstruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Units {
    /// HU when a scan record says how, else 1/mm.
    Auto,
    /// Linear attenuation, 1/mm.
    Mu,
    /// Hounsfield units (needs the scan record of `roboct simulate-scan`).
    Hu,
}

/// The scan record beside the projections, and whether the output is to be in HU.
fn output_units(args: &ReconArgs) -> Result<Option<roboct_scanner::files::ScanRecord>> {
    let record = roboct_scanner::files::read_scan_record(&args.projections)?;
    match (args.units, &record) {
        (Units::Mu, _) => Ok(None),
        (Units::Hu, None) => bail!(
            "--units hu: {} has no scan record ({}) to say what water's attenuation is; \
             reconstruct in 1/mm (--units mu) or give projections from roboct simulate-scan",
            args.projections.display(),
            roboct_scanner::files::sidecars(&args.projections)
                .3
                .display()
        ),
        (_, r) => Ok(r.clone()),
    }
}

/// `WIDTH,LEVEL`: a finite positive width and a finite level.
pub(crate) fn parse_window(text: &str) -> Result<Display, String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [width, level] = parts.as_slice() else {
        return Err(format!(
            "{text:?}: expected WIDTH,LEVEL such as 80,40 or 1500,-600"
        ));
    };
    let number = |name: &str, v: &str| -> Result<f32, String> {
        v.parse::<f32>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("{name} {v:?} is not a finite number"))
    };
    let (width, level) = (number("width", width)?, number("level", level)?);
    if !(width > 0.0) {
        return Err(format!("width {width} must be greater than 0"));
    }
    Ok(Display {
        center: level,
        width,
    })
}

pub fn recon(args: ReconArgs, ctx: &Context) -> Result<()> {
    let window: Window = args.filter.parse()?;
    let start = Instant::now();
    let stack = roboct_io::read_projections(&args.projections)?;
    let (_, rows, cols) = stack.data.dim();
    let g = read_geometry(&args.geometry, stack.detector, Some((cols, rows)))
        .with_context(|| format!("reading geometry {}", args.geometry.display()))?;
    roboct_io::check_detector_agrees(&stack, &g, &args.projections, &args.geometry)?;
    let record = output_units(&args)?;
    if let Some(method) = args.algorithm.iterative() {
        return recon_iterative(&args, method, stack.data, g, record, start, ctx);
    }
    let analytic = match args.algorithm {
        Algorithm::Fbp => roboct_recon::Analytic::Fbp,
        _ => roboct_recon::Analytic::Fdk,
    };
    roboct_recon::check_analytic(analytic, &g.scan, g.is_2d)?;
    let grid = args.grid.resolve(g.is_2d, || match &g.volume {
        Some(v) => Ok(v.clone()),
        None => Ok(default_volume(&g.scan, g.is_2d)?),
    })?;
    roboct_io::check_projection_shape(stack.data.dim(), &g, &args.projections, &args.geometry)?;
    let read_s = start.elapsed().as_secs_f64();
    let options = AnalyticOptions {
        filter: Filter {
            window,
            cutoff: args.cutoff,
        },
        slab_thickness: args.slab,
        force_generic: false,
    };
    let bar = Bar::new(ctx.quiet);
    let mut volume = Volume::zeros(grid.clone());
    let report = roboct_recon::fdk(
        &g.scan,
        stack.data,
        &grid,
        &options,
        &bar,
        &CancelToken::new(),
        |slab| volume.insert_slab(&slab),
    )?;
    let volume = match &record {
        Some(r) => r.to_hu(volume),
        None => volume,
    };
    roboct_io::write_volume(&args.out, &volume)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(dir) = &args.png {
        write_previews(dir, "recon", &volume, args.window)?;
    }
    print_report(&report, &grid, read_s);
    println!(
        "wrote {} ({})",
        args.out.display(),
        if record.is_some() { "HU" } else { "mu in 1/mm" }
    );
    Ok(())
}

/// `roboct recon` with an iterative method.
fn recon_iterative(
    args: &ReconArgs,
    method: roboct_recon::IterativeMethod,
    projections: ndarray::Array3<f32>,
    g: GeometryFile,
    record: Option<roboct_scanner::files::ScanRecord>,
    start: Instant,
    ctx: &Context,
) -> Result<()> {
    use roboct_recon::ReconPlan;
    let it = &args.iterative;
    if it.iterations < 1 {
        bail!("--iterations is {}; expected at least 1", it.iterations);
    }
    let grid = args.grid.resolve(g.is_2d, || match &g.volume {
        Some(v) => Ok(v.clone()),
        None => Ok(default_volume(&g.scan, g.is_2d)?),
    })?;
    roboct_io::check_projection_shape(projections.dim(), &g, &args.projections, &args.geometry)?;
    let (options, weights) = iterative_options(args, method, record.as_ref())?;
    let read_s = start.elapsed().as_secs_f64();
    let plan = ReconPlan::new(&g.scan, &grid)?;
    let bar = Bar::new(ctx.quiet);
    let (volume, report) = roboct_recon::reconstruct_iterative(
        &plan,
        projections.view(),
        weights.as_ref().map(|w| w.view()),
        &options,
        &bar,
        &CancelToken::new(),
    )
    .map_err(|e| anyhow::anyhow!("{}", cli_field_names(&e.to_string())))
    .with_context(|| format!("{method} of {}", args.projections.display()))?;
    let volume = match &record {
        Some(r) => r.to_hu(volume),
        None => volume,
    };
    roboct_io::write_volume(&args.out, &volume)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(dir) = &args.png {
        write_previews(dir, "recon", &volume, args.window)?;
    }
    println!(
        "reconstructed {:?} voxels by {method} ({:?} path): {} iterations ({:?}), read {read_s:.2} s, set-up {:.2} s, {:.3} s per iteration (projection {:.2} s, transpose {:.2} s in all)",
        grid.size(),
        plan.path(),
        report.iterations,
        report.stopped_because,
        report.setup_s,
        report.seconds_per_iteration(),
        report.forward_s,
        report.adjoint_s
    );
    print!("{}", report.residual_and_memory());
    println!(
        "wrote {} ({})",
        args.out.display(),
        if record.is_some() { "HU" } else { "mu in 1/mm" }
    );
    Ok(())
}

/// The iterative options of the flags, and PWLS's weights: `--weights`, else the scan's own
/// when the projections come from `roboct simulate-scan`.
fn iterative_options(
    args: &ReconArgs,
    method: roboct_recon::IterativeMethod,
    record: Option<&roboct_scanner::files::ScanRecord>,
) -> Result<(roboct_recon::IterativeOptions, Option<ndarray::Array3<f32>>)> {
    use roboct_recon::{IterativeOptions, WarmStart};
    let it = &args.iterative;
    let weights_path = it.weights.clone().or_else(|| {
        (method == roboct_recon::IterativeMethod::Pwls && record.is_some())
            .then(|| roboct_scanner::files::sidecars(&args.projections).1)
    });
    let weights = match &weights_path {
        Some(path) => Some(
            roboct_io::read_projections(path)
                .with_context(|| format!("reading --weights {}", path.display()))?
                .data,
        ),
        None => None,
    };
    let warm_start = match it.warm_start.as_str() {
        "zero" => WarmStart::Zero,
        "fdk" | "fbp" => WarmStart::Fdk,
        file => {
            let v = roboct_io::read_volume(Path::new(file))
                .with_context(|| format!("reading --warm-start {file}"))?;
            WarmStart::Volume(v.into_parts().1)
        }
    };
    let options = IterativeOptions::new(method)
        .iterations(it.iterations as usize)
        .tolerance(it.tolerance)
        .subsets(it.subsets)
        .relaxation(it.relaxation)
        .tv_weight(it.tv_weight)
        .tv_iterations(it.tv_iterations)
        .pwls_beta(it.pwls_beta)
        .nonnegative(!it.no_nonneg)
        .warm_start(warm_start);
    Ok((options, weights))
}

/// The library's option names as the command line spells them (`tv weight` -> `--tv-weight`).
fn cli_field_names(message: &str) -> String {
    let mut out = message.to_string();
    for (lib, cli) in [
        ("tv iterations:", "--tv-iterations:"),
        ("tv weight:", "--tv-weight:"),
        ("pwls beta:", "--pwls-beta:"),
        ("warm start:", "--warm-start:"),
        ("iterations:", "--iterations:"),
        ("tolerance:", "--tolerance:"),
        ("subsets:", "--subsets:"),
        ("relaxation:", "--relaxation:"),
        ("weights:", "--weights:"),
    ] {
        if out.starts_with(lib) {
            out = format!("{cli}{}", &out[lib.len()..]);
            break;
        }
    }
    out
}

fn print_report(report: &ReconReport, grid: &VolumeGrid, read_s: f64) {
    let total = report.filter_s + report.backproject_s;
    println!(
        "reconstructed {:?} voxels: read {:.2} s, weight+filter {:.2} s, back-project {:.2} s ({:.2e} voxel-updates/s, path {:?}, {:?})",
        grid.size(),
        read_s,
        report.filter_s,
        report.backproject_s,
        report.voxel_updates as f64 / report.backproject_s.max(1e-9),
        report.path,
        report.redundancy
    );
    let _ = total;
    for w in &report.warnings {
        println!("warning: {w}");
    }
}

/// Axial, coronal and sagittal central slices, windowed over the volume's range.
fn write_previews(
    dir: &Path,
    prefix: &str,
    volume: &Volume,
    window: Option<Display>,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let data = volume.data();
    let window = window.unwrap_or_else(|| Display::min_max(data.iter()));
    let (nz, ny, nx) = data.dim();
    let mut out = Vec::new();
    for (name, slice) in [
        ("axial", data.index_axis(ndarray::Axis(0), nz / 2)),
        ("coronal", data.index_axis(ndarray::Axis(1), ny / 2)),
        ("sagittal", data.index_axis(ndarray::Axis(2), nx / 2)),
    ] {
        if slice.dim().0 < 2 {
            continue;
        }
        // Coronal and sagittal views with z up.
        let slice = if name == "axial" {
            slice.to_owned()
        } else {
            slice.slice(ndarray::s![..;-1, ..]).to_owned()
        };
        let path = dir.join(format!("{prefix}_{name}.png"));
        roboct_io::write_png_slice(&path, slice.view(), window)?;
        out.push(path);
    }
    Ok(out)
}

/// `roboct bench recon`: the reference problems.
#[derive(Debug, clap::Args)]
pub struct BenchReconArgs {
    /// p2, p3 (FBP and FDK), iterative (P3's geometry: OS-SART and FISTA-TV), or all.
    #[arg(long, default_value = "all")]
    problem: String,
    /// Iterations of the iterative problems: OS-SART (10 subsets) and FISTA-TV.
    #[arg(long, value_delimiter = ',', default_values_t = [10usize, 20])]
    iterations: Vec<usize>,
    /// Shrink the problems by this factor (sizes, views and pixels), for a quick look.
    #[arg(long, default_value_t = 1)]
    scale: usize,
    /// Timed runs per problem (the best and the median are printed).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Also write the figures as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Keep each problem's projections (.npy), geometry (.toml and RTK .xml/.mha) and
    /// reconstruction here, for the comparison scripts in bench/compare/.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Slices per slab (thicker slabs: longer inner loops and more memory; thinner: the first
    /// slices stream out sooner).
    #[arg(long, default_value_t = AnalyticOptions::default().slab_thickness)]
    slab: usize,
}

pub fn bench_recon(args: BenchReconArgs, ctx: &Context) -> Result<()> {
    let (problems, iterative) = recon::problems(&args.problem, args.scale)?;
    recon::check_iterations(&args.iterations)?;
    let limits = recon::measure_machine_limits();
    println!("{limits}");
    let options = recon::FdkBenchOptions {
        repeat: args.repeat,
        slab: args.slab,
        save: args.save.clone(),
    };
    let mut results = Vec::new();
    for p in &problems {
        println!("{}: {}", p.name, p.description);
        let data = problem_data(p, &args, ctx)?;
        let figures = recon::time_fdk(&data, &options, &limits)?;
        print!("{figures}");
        results.push(serde_json::to_value(&figures)?);
    }
    if iterative {
        results.extend(bench_iterative(&args, &limits, ctx)?);
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// A problem's exact projections and truth, saved for the comparison scripts with `--save`.
fn problem_data<'a>(
    p: &'a Problem,
    args: &BenchReconArgs,
    ctx: &Context,
) -> Result<recon::ProblemData<'a>> {
    let data = recon::ProblemData::new(p, &Bar::new(ctx.quiet));
    println!("{data}");
    if let Some(dir) = &args.save {
        data.save(dir)
            .with_context(|| format!("saving {} to {}", p.name, dir.display()))?;
        println!("  saved to {}", dir.display());
    }
    Ok(data)
}

/// The iterative rows of `bench recon`: P3's geometry and phantom, OS-SART (10 subsets) and
/// FISTA-TV from zero; the Joseph pair's rates against the machine's limits.
fn bench_iterative(
    args: &BenchReconArgs,
    limits: &recon::MachineLimits,
    ctx: &Context,
) -> Result<Vec<serde_json::Value>> {
    use roboct_recon::IterativeMethod;
    let p = Problem::p3(args.scale);
    println!(
        "{} iterative: {} (the same data as FDK's)",
        p.name, p.description
    );
    let data = problem_data(&p, args, ctx)?;
    let plan = roboct_recon::ReconPlan::new(&p.geometry, &p.grid)?;
    let joseph = recon::time_joseph(&data, &plan, args.repeat, limits)?;
    print!("{joseph}");
    let bar = Bar::new(ctx.quiet);
    let mut rows = Vec::new();
    for (method, iterations) in [
        (IterativeMethod::OsSart, args.iterations[0]),
        (IterativeMethod::FistaTv, args.iterations[1]),
    ] {
        let figures = recon::time_iterative(
            &data,
            &plan,
            method,
            iterations,
            &joseph,
            &bar,
            args.save.as_deref(),
        )?;
        print!("{figures}");
        rows.push(figures.to_json());
    }
    Ok(rows)
}

/// `roboct geometry`: describe a geometry file, and export it for RTK.
#[derive(Debug, clap::Args)]
pub struct GeometryArgs {
    /// Geometry file (.toml).
    geometry: PathBuf,
    /// Write the same scan as an RTK geometry file (RTK's frame); its projections' MetaImage
    /// header carries the detector (as `roboct phantom --projections x.mha` writes it).
    #[arg(long)]
    rtk_xml: Option<PathBuf>,
}

pub fn geometry(args: GeometryArgs, _ctx: &Context) -> Result<()> {
    let g = read_geometry(&args.geometry, None, None)?;
    let d = g.scan.detector();
    println!(
        "{}: {} {} scan, {} views, detector {} x {} pixels of {:?} mm ({:?}), pixel (0,0) at {:?} mm",
        args.geometry.display(),
        if g.is_2d { "2D" } else { "3D" },
        if g.scan.is_parallel() {
            "parallel-beam"
        } else {
            "divergent-beam"
        },
        g.scan.n_views(),
        d.cols,
        d.rows,
        d.pixel_mm,
        d.shape,
        d.origin_mm
    );
    if let Some(o) = g.scan.orbit() {
        let (lo, hi) = o
            .angles_rad
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        println!(
            "  circular orbit about {:?}, angles {:.2} to {:.2} deg",
            o.axis,
            lo.to_degrees(),
            hi.to_degrees()
        );
    } else {
        println!("  no circular orbit (FBP/FDK cannot reconstruct it)");
    }
    let grid = match &g.volume {
        Some(v) => v.clone(),
        None => default_volume(&g.scan, g.is_2d)?,
    };
    println!(
        "  {} volume: {:?} voxels of {:?} mm centred at {:?} mm",
        if g.volume.is_some() {
            "file's"
        } else {
            "default (field of view)"
        },
        grid.size(),
        grid.spacing_mm(),
        grid.center_mm()
    );
    if let Some(out) = &args.rtk_xml {
        let c = g
            .circular
            .as_ref()
            .context(
                "only circular scans about the origin (not kind = \"vec\", no isocenter_mm) can be written as RTK geometry",
            )?;
        roboct_geometry::write_rtk_xml(out, &c.to_rtk())?;
        println!(
            "wrote {} (RTK's frame: RTK's y is our z, RTK's z is our -y)",
            out.display()
        );
    }
    Ok(())
}
