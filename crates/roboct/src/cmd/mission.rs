//! `roboct demo` (one whole mission on embedded defaults) and `roboct bench mission`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use roboct_dicom::config::DicomConfig;
use roboct_dicom::dimse::AssociationOptions;
use roboct_dicom::outbox::Outbox;
use roboct_dicom::scp::{Scp, ScpEvent, ScpOptions};
use roboct_dicom::send::{Sender, sender_for};
use roboct_mission::ct::{CtChain, PacsTarget, SenderSetupError};
use roboct_mission::demo::{demo_finding, demo_world_on, hospital_navigator, site_navigator};
use roboct_mission::mission::{Mission, Observer, Order, Quiet, Settings, Summary};
use roboct_mission::phase::Phase;
use roboct_mission::site::SiteConfig;
use roboct_mission::store::Store;
use roboct_mission::summary::{MissionReport, stored};
use roboct_scanner::ScannerSpec;

use super::Context;

/// `roboct demo`: one whole simulated mission.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where every artefact goes (images, reports, the embedded PACS, the mission database).
    #[arg(long, default_value = "roboct-out")]
    out: PathBuf,
    /// Print the summary as JSON on stdout (the phases go to stderr).
    #[arg(long)]
    json: bool,
    /// Send to a real PACS (and report the procedure step to its MPPS SCP) as configured in
    /// this DICOM configuration file, instead of the embedded PACS.
    #[arg(long, value_name = "FILE")]
    pacs: Option<PathBuf>,
    /// A site configuration (TOML: `map`, `dock`, `pacs`, `notification_head_mgy`,
    /// `notification_body_mgy`, `exposure_radius_m`, `battery_reserve`), validated at start.
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
    /// Take the order from the worklist configured in this DICOM configuration file (the
    /// first scheduled CT step for our AE title) instead of the demo's order.
    #[arg(long, value_name = "FILE")]
    worklist: Option<PathBuf>,
    /// With --pacs: the PACS's name in the file (default: the first).
    #[arg(long, requires = "pacs")]
    destination: Option<String>,
    /// The simulated patient's seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// A patient without a haemorrhage.
    #[arg(long)]
    clean: bool,
    /// Reconstruction voxel, mm (coarser is faster).
    #[arg(long, default_value_t = 1.0)]
    voxel_mm: f64,
    /// Run the robot's clock this many times faster than the wall clock (0: as fast as the
    /// computer goes).
    #[arg(long, default_value_t = 0.0)]
    time_scale: f64,
    /// Type something at a robot time, `SECONDS:TEXT` (e.g. `40:stop`); repeatable.
    #[arg(long, value_name = "SECONDS:TEXT")]
    say: Vec<String>,
    /// The ID on the simulated patient's wristband (default: the order's).
    #[arg(long)]
    wristband: Option<String>,
    /// The simulated battery's charge, 0 to 1.
    #[arg(long, default_value_t = 0.9)]
    battery: f64,
    /// The order's place (a place name of the site).
    #[arg(long, default_value = "ward-3/bed-12")]
    place: String,
    /// The order's protocol: standard, low dose or sparse view.
    #[arg(long, default_value = "standard")]
    protocol: String,
}

/// Phase lines on stderr (stdout when not JSON), with the robot's clock.
struct Lines {
    json: bool,
}

impl Lines {
    fn print(&self, line: &str) {
        if self.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
}

impl Observer for Lines {
    fn phase(&self, phase: Phase, t_s: f64, line: &str) {
        self.print(&format!("[{t_s:7.1} s] {:<22} {line}", phase.name()));
    }
    fn note(&self, line: &str) {
        self.print(&format!("{:12}{line}", ""));
    }
}

/// Where the images go: the embedded PACS (kept running until the end) or a real one.
struct Pacs {
    target: PacsTarget,
    embedded: Option<Scp>,
}

fn embedded_pacs(out: &Path) -> Result<Pacs> {
    let dir = out.join("pacs");
    let scp = Scp::bind("127.0.0.1:0", ScpOptions::new("ROBOCT-PACS", &dir))
        .context("starting the embedded PACS on loopback")?;
    let peer = scp.peer();
    let options = AssociationOptions::new("ROBOCT").dimse_timeout(Duration::from_secs(10));
    let outbox = Outbox::open(out.join("outbox"))
        .with_context(|| format!("opening the outbox in {}", out.display()))?;
    let label = format!(
        "the embedded PACS ({} at {}:{}, into {})",
        peer.ae_title,
        peer.host,
        peer.port,
        dir.display()
    );
    Ok(Pacs {
        target: PacsTarget::dimse(outbox, "embedded-pacs", peer, options, label),
        embedded: Some(scp),
    })
}

fn configured_pacs(file: &Path, name: Option<&str>, out: &Path) -> Result<Pacs> {
    let config = DicomConfig::load(file)?;
    let (name, pacs) = match name {
        Some(n) => (
            n.to_string(),
            config.pacs.get(n).cloned().with_context(|| {
                format!(
                    "{}: no PACS named {n:?} (the file names: {})",
                    file.display(),
                    config.pacs.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            })?,
        ),
        None => {
            let Some((n, p)) = config.pacs.iter().next() else {
                bail!(
                    "{}: no [pacs.NAME] section; expected at least one",
                    file.display()
                );
            };
            (n.clone(), p.clone())
        }
    };
    // Fail now, not after the scan, when the PACS entry cannot make a sender.
    sender_for(&pacs, &config.ae_title)
        .with_context(|| format!("{}: PACS {name:?}", file.display()))?;
    let outbox = Outbox::open(&config.outbox).with_context(|| {
        format!(
            "opening the outbox {} (from {})",
            config.outbox.display(),
            file.display()
        )
    })?;
    let _ = out;
    let ae = config.ae_title.clone();
    let for_sender = pacs.clone();
    let label = format!("PACS {name:?} (from {})", file.display());
    let mpps = config
        .mpps
        .clone()
        .or(config.worklist.clone())
        .map(|(peer, timeout)| (peer, AssociationOptions::new(&ae).dimse_timeout(timeout)));
    Ok(Pacs {
        target: PacsTarget {
            outbox,
            destination: name,
            sender: Box::new(move || -> Result<Box<dyn Sender>, SenderSetupError> {
                sender_for(&for_sender, &ae).map_err(Into::into)
            }),
            label,
            mpps,
        },
        embedded: None,
    })
}

/// What a demo mission left.
struct Ran {
    summary: Summary,
    wall_s: f64,
    pacs_events: Vec<ScpEvent>,
    warnings: Vec<String>,
    log: PathBuf,
}

/// The first scheduled CT order for our station on the worklist configured in `file`.
fn worklist_order(file: &Path, places: &[String]) -> Result<Order> {
    let config = DicomConfig::load(file)?;
    let Some((peer, timeout)) = &config.worklist else {
        bail!(
            "{}: no [worklist] section; expected the worklist SCP's address",
            file.display()
        );
    };
    let query = roboct_dicom::worklist::WorklistQuery {
        station_ae_title: Some(config.ae_title.clone()),
        ..Default::default()
    };
    let report =
        roboct_dicom::worklist::query_worklist(peer, &config.association_options(*timeout), &query)
            .with_context(|| format!("polling the worklist {peer} (from {})", file.display()))?;
    let Some(item) = report.items.first() else {
        bail!(
            "the worklist {peer} has no scheduled CT order for {}",
            config.ae_title
        );
    };
    Ok(Order::from_worklist(item, places)?)
}

/// `roboct demo`.
pub fn demo(args: DemoArgs, ctx: &Context) -> Result<()> {
    let _ = ctx;
    let lines = Lines { json: args.json };
    let ran = run_mission(&args, &lines)?;
    let Ran {
        summary,
        wall_s,
        pacs_events,
        warnings,
        log,
    } = ran;
    if args.json {
        let mut v = serde_json::to_value(&summary)?;
        v["wall_s"] = serde_json::json!(wall_s);
        v["event_log"] = serde_json::json!(log);
        v["pacs_stored"] = serde_json::json!(stored(&pacs_events));
        v["warnings"] = serde_json::json!(warnings);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let report = MissionReport {
            summary: &summary,
            wall_s,
            pacs_events: &pacs_events,
            warnings: &warnings,
            log: &log,
            out: &args.out,
        };
        print!("{report}");
    }
    if let Some((why, recovery)) = &summary.failure {
        bail!("the mission failed: {why} (recovery: {recovery})");
    }
    Ok(())
}

/// Runs one demo mission as `args` say, showing its phases through `observer`.
fn run_mission(args: &DemoArgs, lines: &dyn Observer) -> Result<Ran> {
    let said = checked_said(args)?;
    let mut store = open_store(&args.out, lines)?;
    let site = match &args.site {
        Some(f) => SiteConfig::load(f)?,
        None => SiteConfig::default(),
    };
    let navigator = match &site.map {
        Some(map) => site_navigator(map)?,
        None => hospital_navigator()?,
    };
    let mut order = Order::demo();
    order.place = args.place.clone();
    if let Some(file) = &args.worklist {
        let places: Vec<String> = navigator
            .site()
            .places
            .iter()
            .map(|p| p.name.clone())
            .collect();
        order = worklist_order(file, &places)?;
    }
    order.protocol = args.protocol.clone();
    let pacs = match args.pacs.as_ref().or(site.pacs.as_ref()) {
        Some(file) => configured_pacs(file, args.destination.as_deref(), &args.out)?,
        None => embedded_pacs(&args.out)?,
    };
    let findings = if args.clean {
        Vec::new()
    } else {
        vec![demo_finding()]
    };
    let settings = site.apply(Settings {
        out_dir: args.out.clone(),
        time_scale: args.time_scale,
        ..Settings::default()
    });
    let (mut world, truth) = demo_world_on(navigator, &settings.dock, &order, args.seed, findings)?;
    if let Some(w) = &args.wristband {
        world.wristband = Some(roboct_core::Phi::new(w.clone()));
    }
    world.battery =
        roboct_mission::sim::SimBattery::new(roboct_mission::world::BATTERY_J, args.battery);
    for (t, text) in said {
        world.type_at(t, &text);
    }
    let truth_path = args.out.join("patient_truth.json");
    std::fs::write(&truth_path, serde_json::to_string_pretty(&truth)?)
        .with_context(|| format!("writing {}", truth_path.display()))?;
    let mut chain = CtChain::new(ScannerSpec::mobile_head(), &args.out, Some(pacs.target));
    chain.voxel_mm = args.voxel_mm;
    lines.note(&format!(
        "roboct demo: a {} scan for patient {} at {}, images to {}",
        order.body_part.to_lowercase(),
        order.patient_id.expose(),
        order.place,
        chain.pacs_label().unwrap_or("no PACS")
    ));
    let wall = Instant::now();
    let mission = Mission::begin(order, settings, &mut world, &mut store, lines)?;
    let id = mission.id();
    let summary = mission.run(&mut chain);
    let wall_s = wall.elapsed().as_secs_f64();
    let mut pacs_events = Vec::new();
    if let Some(mut scp) = pacs.embedded {
        scp.shutdown();
        pacs_events = scp.events();
    }
    if let Some(route) = &summary.route {
        write_route(world.base.navigator(), route, &args.out)?;
    }
    let log = args.out.join("events.jsonl");
    write_event_log(&store, id, &log)?;
    Ok(Ran {
        summary,
        wall_s,
        pacs_events,
        warnings: chain.warnings.clone(),
        log,
    })
}

/// The demo's settings checked, and the `--say` lines as (robot time, text).
fn checked_said(args: &DemoArgs) -> Result<Vec<(f64, String)>> {
    if !(args.battery > 0.0 && args.battery <= 1.0) {
        bail!(
            "--battery {}: expected a charge above 0 and at most 1",
            args.battery
        );
    }
    if !(args.voxel_mm >= 0.5 && args.voxel_mm <= 4.0) {
        bail!("--voxel-mm {}: expected 0.5 to 4 mm", args.voxel_mm);
    }
    if !(args.time_scale >= 0.0 && args.time_scale.is_finite()) {
        bail!(
            "--time-scale {}: expected 0 (as fast as possible) or more",
            args.time_scale
        );
    }
    let mut said = Vec::new();
    for s in &args.say {
        let (t, text) = s
            .split_once(':')
            .with_context(|| format!("--say {s:?}: expected SECONDS:TEXT, e.g. 40:stop"))?;
        let t: f64 = t
            .trim()
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite() && *t >= 0.0)
            .with_context(|| format!("--say {s:?}: {t:?} is not a time in seconds"))?;
        said.push((t, text.to_string()));
    }
    Ok(said)
}

/// The mission store in `out`, closing (and telling `lines` of) missions a crash interrupted.
fn open_store(out: &Path, lines: &dyn Observer) -> Result<Store> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let db = out.join("missions.sqlite");
    let mut store = Store::open(&db).with_context(|| format!("opening {}", db.display()))?;
    for m in store.close_interrupted()? {
        lines.note(&format!(
            "mission {} was interrupted in {} (a crash or a power cut): closed; what it queued for the PACS is delivered now",
            m.id, m.phase
        ));
    }
    Ok(store)
}

/// The route's picture and its JSON in `out`.
fn write_route(
    navigator: &roboct_nav::plan::Navigator,
    route: &roboct_nav::plan::Route,
    out: &Path,
) -> Result<()> {
    let png = out.join("route.png");
    roboct_nav::render::write_png(navigator, Some(route), &png)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("writing {}", png.display()))?;
    std::fs::write(out.join("route.json"), serde_json::to_string_pretty(route)?)
        .with_context(|| format!("writing {}", out.join("route.json").display()))?;
    Ok(())
}

fn write_event_log(store: &Store, id: i64, path: &Path) -> Result<()> {
    let mut text = String::new();
    for e in store.events(id)? {
        let detail: serde_json::Value =
            serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null);
        text.push_str(&serde_json::to_string(&serde_json::json!({
            "t_s": e.t_s, "phase": e.phase, "kind": e.kind, "detail": detail,
        }))?);
        text.push('\n');
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// `roboct bench mission`: the demo mission's computing, phase by phase.
#[derive(Debug, clap::Args)]
pub struct BenchMissionArgs {
    /// Reconstruction voxel in-plane, mm (slices twice that).
    #[arg(long, default_value_t = 1.0)]
    voxel_mm: f64,
    /// The simulated patient's seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

/// `roboct bench mission`.
pub fn bench_mission(args: BenchMissionArgs, ctx: &Context) -> Result<()> {
    let _ = ctx;
    let dir = tempfile::tempdir().context("a temporary folder for the bench")?;
    let demo = DemoArgs {
        out: dir.path().to_path_buf(),
        json: true,
        pacs: None,
        site: None,
        worklist: None,
        destination: None,
        seed: args.seed,
        clean: false,
        voxel_mm: args.voxel_mm,
        time_scale: 0.0,
        say: Vec::new(),
        wristband: None,
        battery: 0.9,
        place: "ward-3/bed-12".into(),
        protocol: "standard".into(),
    };
    let ran = run_mission(&demo, &Quiet)?;
    let s = &ran.summary;
    if let Some((why, _)) = &s.failure {
        bail!("the bench mission failed: {why}");
    }
    let ct = s.ct.as_ref().context("the bench mission made no images")?;
    let compute: f64 = s.ledger.compute_s.values().sum();
    let grid = format!("{} slices", ct.images);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "compute_s_by_phase": s.ledger.compute_s,
                "compute_s": compute,
                "wall_s": ran.wall_s,
                "recon_s": ct.recon_s,
                "diagnosis_s": ct.diagnosis_s,
                "first_slice_in_pacs_s": ct.first_slice_s,
                "last_slab_s": ct.last_slab_s,
                "images": ct.images,
                "sent": ct.sent,
                "robot_clock_s": s.total_s,
                "energy_j": s.ledger.total_j(),
            }))?
        );
        return Ok(());
    }
    println!(
        "roboct bench mission: the demo mission ({grid}, {} mm in-plane), the drive simulated at full speed",
        args.voxel_mm
    );
    println!("  computing by phase (wall clock):");
    for (phase, c) in &s.ledger.compute_s {
        println!("    {:<22} {c:6.2} s", phase.name());
    }
    println!(
        "  of which reconstruction {:.2} s, reading {:.2} s",
        ct.recon_s,
        ct.diagnosis_s.unwrap_or(0.0)
    );
    println!("  whole mission's computing: {compute:.2} s (goal: under 20 s)");
    println!(
        "  first slice in the PACS {:.2} s after the first slab; last slab at {:.2} s ({})",
        ct.first_slice_s.unwrap_or(f64::NAN),
        ct.last_slab_s.unwrap_or(f64::NAN),
        if ct.first_slice_s < ct.last_slab_s {
            "before the reconstruction finished"
        } else {
            "NOT before the reconstruction finished"
        }
    );
    println!(
        "  whole run {:.1} s here for {:.0} s on the robot's clock; {} instances sent",
        ran.wall_s, s.total_s, ct.sent
    );
    Ok(())
}
