//! DICOM subcommands: `worklist`, `export-dicom`, `import-dicom`, `upload`, `outbox`, and
//! `bench upload`. Argument parsing and printing only; the work is in `roboct-dicom`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use roboct_dicom::config::{DicomConfig, PacsEndpoint};
use roboct_dicom::ct::{CtSeriesInfo, CtSeriesWriter, PatientPosition, VolumeFrame, VoxelUnits};
use roboct_dicom::outbox::{Enqueued, ItemState, Outbox, OutboxError};
use roboct_dicom::part10::{DEFLATED_EXPLICIT_VR_LE, EXPLICIT_VR_LE};
use roboct_dicom::reader::SeriesContext;
use roboct_dicom::send::Sender;
use roboct_dicom::study::{StudyContext, body_part_code};
use roboct_dicom::uid::UidGenerator;
use roboct_dicom::upload::{UploadPolicy, UploadReport, Uploader, deliver};
use roboct_dicom::worklist::{WorklistQuery, query_worklist};

use super::Context;
use crate::progress::Bar;

/// The configuration file: `--pacs`, else `$ROBOCT_PACS_CONFIG`, else `./pacs.toml`.
fn config_path(given: &Option<PathBuf>) -> PathBuf {
    given
        .clone()
        .or_else(|| std::env::var_os("ROBOCT_PACS_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("pacs.toml"))
}

fn load(given: &Option<PathBuf>) -> Result<DicomConfig> {
    Ok(DicomConfig::load(&config_path(given))?)
}

/// `--timeout-s`: seconds, more than 0 and at most a week.
fn timeout_seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(v > 0.0 && v <= 7.0 * 86_400.0) {
        return Err(format!(
            "{s} is not a timeout: expected seconds, more than 0 and at most 604800 (a week)"
        ));
    }
    Duration::try_from_secs_f64(v).map_err(|e| format!("{s}: {e}"))
}

/// `--older-than-days`: days, 0 to 36500 (a century).
fn age_days(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of days"))?;
    if !(0.0..=36_500.0).contains(&v) {
        return Err(format!("{s} is not an age: expected days from 0 to 36500"));
    }
    Duration::try_from_secs_f64(v * 86_400.0).map_err(|e| format!("{s}: {e}"))
}

/// `roboct worklist`.
#[derive(Debug, Args)]
pub struct WorklistArgs {
    /// PACS/RIS configuration (TOML); default `$ROBOCT_PACS_CONFIG` or `./pacs.toml`.
    #[arg(long, value_name = "CONFIG")]
    pacs: Option<PathBuf>,
    /// Scheduled date: `today`, `any`, `YYYYMMDD` or `YYYYMMDD-YYYYMMDD`.
    #[arg(long, default_value = "today")]
    date: String,
    /// Scheduled Station AE Title to match (default: ours; `any` for every station).
    #[arg(long)]
    station: Option<String>,
    /// Modality.
    #[arg(long, default_value = "CT")]
    modality: String,
    /// Print JSON instead of a table (patient data masked as in the table unless
    /// --show-phi).
    #[arg(long)]
    json: bool,
    /// Show patient names, IDs, birth dates and accession numbers in clear (default: names as
    /// initials, the others as `***` with a hint; see `PhiMask`).
    #[arg(long)]
    show_phi: bool,
}

/// Masks patient identifiers in what `roboct worklist` and `roboct listen` print, unless the
/// operator asks for them with `--show-phi` (output is copied into tickets, chats and logs).
///
/// * names (DICOM PN, `FAMILY^GIVEN^...`): the initials, `DOE^JANE` -> `D^J`;
/// * IDs and accession numbers: `***#` and 4 hex digits, a hash keyed with a random key that
///   lives only as long as the process: the same value gives the same hint within one run, so
///   rows can be told apart, but the hint cannot be reversed, not even by hashing every
///   possible ID (the key is unknown), nor linked across runs;
/// * birth dates: `***`.
///
/// Empty values stay empty (nothing to hide, and "no birth date" is worth seeing).
pub(crate) struct PhiMask {
    show: bool,
    key: std::hash::RandomState,
}

impl PhiMask {
    /// Masks unless `show`.
    pub(crate) fn new(show: bool) -> Self {
        Self {
            show,
            key: std::hash::RandomState::new(),
        }
    }

    /// A person's name.
    pub(crate) fn name(&self, pn: &str) -> String {
        if self.show || pn.trim().is_empty() {
            return pn.to_string();
        }
        // The alphabetic group only (PN may carry `=`-separated ideographic groups).
        let alphabetic = pn.split('=').next().unwrap_or("");
        let initials: Vec<String> = alphabetic
            .split('^')
            .take(2)
            .map(|part| {
                part.trim()
                    .chars()
                    .next()
                    .map(|c| c.to_uppercase().collect())
                    .unwrap_or_default()
            })
            .collect();
        let masked = initials.join("^").trim_end_matches('^').to_string();
        if masked.is_empty() {
            "***".into()
        } else {
            masked
        }
    }

    /// An identifier (patient ID, accession number).
    pub(crate) fn id(&self, id: &str) -> String {
        use std::hash::BuildHasher;
        if self.show || id.trim().is_empty() {
            return id.to_string();
        }
        format!("***#{:04x}", self.key.hash_one(id.trim()) >> 48)
    }

    /// A date (birth date).
    pub(crate) fn date(&self, d: &str) -> String {
        if self.show || d.trim().is_empty() {
            d.to_string()
        } else {
            "***".into()
        }
    }

    /// A worklist item as JSON, masked.
    fn worklist_item(
        &self,
        item: &roboct_dicom::worklist::WorklistItem,
    ) -> Result<serde_json::Value> {
        let mut v = serde_json::to_value(item)?;
        let set = |v: &mut serde_json::Value, path: &[&str], masked: String| {
            let mut cur = v;
            for p in path {
                cur = &mut cur[*p];
            }
            *cur = serde_json::Value::String(masked);
        };
        set(
            &mut v,
            &["patient", "name"],
            self.name(item.patient.name.expose()),
        );
        set(
            &mut v,
            &["patient", "id"],
            self.id(item.patient.id.expose()),
        );
        set(
            &mut v,
            &["patient", "birth_date"],
            self.date(item.patient.birth_date.expose()),
        );
        set(
            &mut v,
            &["order", "accession_number"],
            self.id(item.order.accession_number.expose()),
        );
        set(
            &mut v,
            &["referring_physician_name"],
            self.name(item.referring_physician_name.expose()),
        );
        Ok(v)
    }
}

/// `roboct export-dicom`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Volume in HU (`.nii`, `.nii.gz`, `.mha`, `.mhd`).
    volume: PathBuf,
    /// Output folder for the CT series (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Configuration, for the site's UID root and station name (optional).
    #[arg(long, value_name = "CONFIG")]
    pacs: Option<PathBuf>,
    /// Series Description.
    #[arg(long, default_value = "ROBOCT AXIAL")]
    description: String,
    /// Write Deflated Explicit VR Little Endian (lossless, smaller) instead of explicit VR LE.
    #[arg(long)]
    deflate: bool,
    /// How the patient lay in the scanner (HFS, HFP, FFS, FFP, HFDR, HFDL, FFDR, FFDL): the
    /// volume is in the scanner's frame, the files in the patient's. Default: the position
    /// kept by import-dicom, else HFS.
    #[arg(long)]
    patient_position: Option<PatientPosition>,
    /// Body Part Examined, e.g. HEAD, CHEST, ABDOMEN, KNEE (default: the one kept by
    /// import-dicom, else none).
    #[arg(long)]
    body_part: Option<String>,
    /// The patient and study to write the series into: a series context file written by
    /// import-dicom (default: `<VOLUME>.dicom.json` when it exists; without one the series
    /// gets a new, unscheduled study).
    #[arg(long, value_name = "FILE")]
    context: Option<PathBuf>,
}

/// `roboct import-dicom`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Folder holding one or more series (searched recursively).
    dir: PathBuf,
    /// Output volume (`.nii`, `.nii.gz`, `.mha`, `.mhd`).
    #[arg(long)]
    out: PathBuf,
    /// Series Instance UID to read when the folder holds several.
    #[arg(long)]
    series: Option<String>,
}

/// `roboct upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Folder of DICOM files (searched recursively; non-DICOM files are skipped).
    dir: PathBuf,
    /// The PACS, by its name in the configuration (`[pacs.<name>]`).
    #[arg(long)]
    to: String,
    /// PACS/RIS configuration (TOML).
    #[arg(long, value_name = "CONFIG")]
    pacs: Option<PathBuf>,
    /// Give up retrying after this many seconds (what is left stays queued for the next run).
    #[arg(long, default_value = "300", value_parser = timeout_seconds)]
    timeout_s: Duration,
}

/// `roboct outbox ...`.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// What is pending, sent and failed, per destination, with the reasons.
    Status {
        /// PACS/RIS configuration (TOML).
        #[arg(long, value_name = "CONFIG")]
        pacs: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send what is pending (after an outage), and optionally requeue failed items first.
    Flush {
        /// The PACS name.
        #[arg(long)]
        to: String,
        /// PACS/RIS configuration (TOML).
        #[arg(long, value_name = "CONFIG")]
        pacs: Option<PathBuf>,
        /// Put items that were refused back in the queue first.
        #[arg(long)]
        retry_failed: bool,
        /// Keep running as the destination's uploader: send what streams and uploads queue,
        /// retry after outages of any length. Stop it with Ctrl-C or a signal: the outbox
        /// loses nothing.
        #[arg(long)]
        watch: bool,
        /// Give up after this many seconds (default 300; with --watch, never).
        #[arg(long, value_parser = timeout_seconds)]
        timeout_s: Option<Duration>,
    },
    /// Delete instances the PACS confirmed long ago (pending and failed ones are kept).
    Prune {
        /// The PACS name.
        #[arg(long)]
        to: String,
        /// Keep what was confirmed in the last N days (0 to 36500).
        #[arg(long, default_value = "7", value_parser = age_days)]
        older_than_days: Duration,
        /// PACS/RIS configuration (TOML).
        #[arg(long, value_name = "CONFIG")]
        pacs: Option<PathBuf>,
    },
}

/// `roboct bench upload`.
#[derive(Debug, Args)]
pub struct BenchUploadArgs {
    /// Slices in the series.
    #[arg(long, default_value_t = 256)]
    slices: usize,
    /// Rows and columns of each slice.
    #[arg(long, default_value_t = 512)]
    size: usize,
    /// Runs of each method.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Milliseconds between reconstruction slabs in the latency run.
    #[arg(long, default_value_t = 100)]
    slab_interval_ms: u64,
}

/// The local date: the RIS schedules in the hospital's time, not in UTC.
fn today() -> String {
    roboct_dicom::study::today_local()
}

pub fn worklist(args: WorklistArgs, _ctx: &Context) -> Result<()> {
    let config = load(&args.pacs)?;
    let Some((peer, timeout)) = &config.worklist else {
        bail!(
            "{} has no [worklist] section (ae_title, host, port of the RIS)",
            config_path(&args.pacs).display()
        );
    };
    let date = match args.date.as_str() {
        "today" => Some(today()),
        "any" => None,
        d => Some(d.to_string()),
    };
    let station = match args.station.as_deref() {
        Some("any") => None,
        Some(s) => Some(s.to_string()),
        None => Some(config.ae_title.clone()),
    };
    let query = WorklistQuery {
        station_ae_title: station,
        date,
        modality: args.modality,
    };
    let report = query_worklist(peer, &config.association_options(*timeout), &query)?;
    for r in &report.rejected {
        eprintln!(
            "warning: worklist answer {} skipped: {}",
            r.index + 1,
            r.reason
        );
    }
    let mask = PhiMask::new(args.show_phi);
    if args.json {
        let items = report
            .items
            .iter()
            .map(|i| mask.worklist_item(i))
            .collect::<Result<Vec<_>>>()?;
        println!("{}", serde_json::to_string_pretty(&items)?);
    } else if report.items.is_empty() {
        println!("no scheduled {} orders match", query.modality);
    } else {
        // The operator's console shows the orders, as any modality's worklist screen does;
        // this is a display for the user, never a log, and identifiers are masked unless
        // asked for.
        println!(
            "{:<10} {:<6} {:<12} {:<24} {:<14} {:<26} location",
            "date", "time", "step", "patient", "patient ID", "procedure"
        );
        for i in &report.items {
            println!(
                "{:<10} {:<6} {:<12} {:<24} {:<14} {:<26} {}",
                i.step.start_date,
                i.step.start_time.get(..4).unwrap_or(&i.step.start_time),
                i.step.id,
                mask.name(i.patient.name.expose()),
                mask.id(i.patient.id.expose()),
                i.order.requested_procedure_description,
                i.current_patient_location
            );
        }
    }
    if report.items.is_empty() && !report.rejected.is_empty() {
        bail!(
            "every worklist answer was malformed ({} skipped)",
            report.rejected.len()
        );
    }
    Ok(())
}

pub fn export(args: ExportArgs, ctx: &Context) -> Result<()> {
    let volume = roboct_io::read_volume(&args.volume)
        .with_context(|| format!("cannot read the volume {}", args.volume.display()))?;
    let (uids, station) = match &args.pacs {
        Some(_) => {
            let c = load(&args.pacs)?;
            (c.uids(), Some(c.station_name.clone()))
        }
        None => (UidGenerator::default(), None),
    };
    let context_path = args.context.clone().or_else(|| {
        let beside = SeriesContext::path_beside(&args.volume);
        beside.exists().then_some(beside)
    });
    let context = context_path
        .as_deref()
        .map(SeriesContext::read)
        .transpose()?;
    let mut study = match &context {
        Some(c) => StudyContext::from_series(c, &uids),
        None => StudyContext::unscheduled(&uids),
    };
    if let Some(s) = station {
        study.equipment.station_name = s;
    }
    if let Some(part) = &args.body_part {
        study.body_part = body_part_code(part).map_err(|e| anyhow::anyhow!("--body-part: {e}"))?;
    }
    let mut info = CtSeriesInfo::new(&uids);
    info.description = args.description.clone();
    info.patient_position = args
        .patient_position
        .or(context.as_ref().and_then(|c| c.patient_position))
        .unwrap_or_default();
    if let Some(c) = &context {
        // The volume came from files: it is in their patient frame, derived from them, and
        // shares their frame of reference.
        info.volume_frame = VolumeFrame::Patient;
        info.derived = true;
        if !c.frame_of_reference_uid.is_empty() {
            info.frame_of_reference_uid = c.frame_of_reference_uid.clone();
        }
        if study.body_part == c.body_part {
            info.laterality = c.laterality.clone();
        }
        if let Some(kvp) = c.kvp {
            info.acquisition.kvp = kvp;
        }
    }
    let ts = if args.deflate {
        DEFLATED_EXPLICIT_VR_LE
    } else {
        EXPLICIT_VR_LE
    };
    let writer = CtSeriesWriter::new(study, info, uids).transfer_syntax(ts);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let nz = volume.grid().size()[2];
    let bar = Bar::new(ctx.quiet);
    roboct_core::Progress::start(&bar, "writing DICOM", nz as u64);
    let data = volume.data();
    for k in 0..nz {
        let inst = writer
            .slice(
                volume.grid(),
                k,
                data.index_axis(ndarray::Axis(0), k),
                VoxelUnits::Hu,
            )
            .with_context(|| format!("slice {k} of {}", args.volume.display()))?;
        let path = args.out.join(format!("CT{:06}.dcm", k + 1));
        std::fs::write(&path, &inst.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        roboct_core::Progress::advance(&bar, 1);
    }
    roboct_core::Progress::finish(&bar);
    println!(
        "wrote {nz} CT slices to {} (series {})",
        args.out.display(),
        writer.series().series_instance_uid
    );
    if let Some(p) = &context_path {
        println!("  into the patient's study kept in {}", p.display());
    }
    Ok(())
}

pub fn import(args: ImportArgs, _ctx: &Context) -> Result<()> {
    let scan = roboct_dicom::reader::scan_folder(&args.dir)?;
    if !scan.not_dicom.is_empty() {
        eprintln!(
            "note: skipped {} files that are not DICOM",
            scan.not_dicom.len()
        );
    }
    if !scan.non_image.is_empty() {
        eprintln!(
            "note: skipped {} DICOM objects that are not images",
            scan.non_image.len()
        );
    }
    for link in &scan.linked_folders {
        eprintln!(
            "note: did not follow the link to a folder {}",
            link.display()
        );
    }
    let (volume, summary) = scan.read_series(args.series.as_deref())?;
    roboct_io::write_volume(&args.out, &volume)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let context_path = SeriesContext::path_beside(&args.out);
    if let Some(c) = scan.context(&summary.series_instance_uid) {
        c.write(&context_path)?;
    }
    let g = volume.grid();
    println!(
        "read series {} ({} {} images) -> {}: {} x {} x {} voxels of {:.3} x {:.3} x {:.3} mm",
        summary.series_instance_uid,
        summary.modality,
        summary.images,
        args.out.display(),
        g.size()[0],
        g.size()[1],
        g.size()[2],
        g.spacing_mm()[0],
        g.spacing_mm()[1],
        g.spacing_mm()[2]
    );
    println!(
        "  patient, study and body part kept in {} (patient data: keep it as private as the \
         images); export-dicom writes a derived series into the same study",
        context_path.display()
    );
    Ok(())
}

/// The sender for PACS `to`; a configuration error (a credential missing, a CA file
/// unreadable) stops here, before anything is queued or sent.
fn sender(config: &DicomConfig, to: &str) -> Result<Box<dyn Sender>> {
    let pacs = config.pacs(to)?;
    if let PacsEndpoint::Stow {
        url,
        insecure: true,
        ..
    } = &pacs.endpoint
        && url.starts_with("http://")
    {
        eprintln!(
            "warning: PACS {to}: plain http:// allowed by `insecure = true`: the images and any credentials cross the network unencrypted"
        );
    }
    roboct_dicom::send::sender_for(pacs, &config.ae_title)
        .map_err(|e| anyhow::anyhow!("PACS {to}: {e}"))
}

/// Prints a run's outcome; an error when anything is left or refused.
fn conclude(config: &DicomConfig, to: &str, report: &UploadReport, secs: f64) -> Result<()> {
    println!(
        "{to}: {} sent ({:.1} MB in {:.1} s), {} pending, {} failed",
        report.sent,
        report.bytes_sent as f64 / 1e6,
        secs,
        report.pending,
        report.failed.len()
    );
    for (uid, why) in &report.failed {
        eprintln!("failed: {uid}: {why}");
    }
    if let Some(why) = &report.configuration_error {
        bail!(
            "sending to {to} stopped: {why}. The {} queued instances are kept in {}; after fixing the configuration, `roboct outbox flush --to {to}` sends them",
            report.pending,
            config.outbox.display()
        );
    }
    if report.pending > 0 {
        bail!(
            "{} instances are still queued for {to} (last error: {}); they are kept in {} and sent by the next `roboct outbox flush --to {to}`",
            report.pending,
            report.last_transient_error.as_deref().unwrap_or("none"),
            config.outbox.display()
        );
    }
    if !report.failed.is_empty() {
        bail!(
            "{} instances were refused by {to} (see `roboct outbox status`)",
            report.failed.len()
        );
    }
    Ok(())
}

/// Sends `uids` (queued) to `to`, or waits while the running uploader sends them.
fn send_queued(
    config: &DicomConfig,
    to: &str,
    uids: &[String],
    sender: Box<dyn Sender>,
    timeout: Duration,
    ctx: &Context,
) -> Result<()> {
    let outbox = Outbox::open(&config.outbox)?;
    let bar = Bar::new(ctx.quiet);
    let start = Instant::now();
    let d = deliver(
        &outbox,
        to,
        uids,
        sender,
        UploadPolicy::default(),
        Some(start + timeout),
        &bar,
    )?;
    if d.other_uploader {
        println!(
            "{to}: another uploader was sending to {to} and sent {} of these instances",
            d.sent_by_other_uploader
        );
    }
    conclude(config, to, &d.upload, start.elapsed().as_secs_f64())
}

pub fn upload(args: UploadArgs, ctx: &Context) -> Result<()> {
    let config = load(&args.pacs)?;
    let sender = sender(&config, &args.to)?;
    let outbox = Outbox::open(&config.outbox)?;
    let files = roboct_dicom::reader::list_part10_files(&args.dir)?;
    if !files.not_dicom.is_empty() {
        eprintln!(
            "note: skipped {} files that are not DICOM",
            files.not_dicom.len()
        );
    }
    for link in &files.linked_folders {
        eprintln!(
            "note: did not follow the link to a folder {}",
            link.display()
        );
    }
    if files.files.is_empty() {
        bail!("no DICOM files in {}", args.dir.display());
    }
    // Every file is checked before any is queued, so a corrupt one stops the upload with
    // nothing half done; one file is in memory at a time, whatever the folder's size.
    for path in &files.files {
        roboct_dicom::reader::read_part10_file(path)?;
    }
    let (mut new, mut dup) = (0, 0);
    let mut to_send = Vec::new();
    for path in &files.files {
        let bytes = roboct_dicom::reader::read_part10_file(path)?;
        match outbox
            .enqueue(&args.to, &bytes)
            .with_context(|| format!("cannot queue {}", path.display()))?
        {
            Enqueued::New(uid) => {
                new += 1;
                to_send.push(uid);
            }
            Enqueued::Duplicate(uid, state) => {
                dup += 1;
                if state == ItemState::Pending {
                    to_send.push(uid);
                }
            }
        }
    }
    println!(
        "queued {new} new instances for {} ({dup} already queued or sent)",
        args.to
    );
    send_queued(&config, &args.to, &to_send, sender, args.timeout_s, ctx)
}

/// `roboct outbox flush --watch`: the destination's uploader service.
fn watch(config: &DicomConfig, to: &str, timeout: Option<Duration>) -> Result<()> {
    let sender = sender(config, to)?;
    let outbox = Outbox::open(&config.outbox)?;
    let mut up = match Uploader::new(outbox, to, sender, UploadPolicy::default()) {
        Ok(up) => up,
        Err(e @ OutboxError::Busy { .. }) => bail!("{e}: only one uploader per destination"),
        Err(e) => return Err(e.into()),
    };
    eprintln!(
        "{to}: sending what is queued in {} and watching for more (stop with Ctrl-C: nothing queued is lost)",
        config.outbox.display()
    );
    let start = Instant::now();
    let deadline = timeout.map(|t| start + t);
    let report = up.serve(
        &|| deadline.is_none_or(|d| Instant::now() < d),
        Duration::from_secs(1),
    )?;
    drop(up);
    conclude(config, to, &report, start.elapsed().as_secs_f64())
}

pub fn outbox(which: OutboxCommand, ctx: &Context) -> Result<()> {
    match which {
        OutboxCommand::Status { pacs, json } => {
            let config = load(&pacs)?;
            let outbox = Outbox::open(&config.outbox)?;
            let status = outbox.status()?;
            if json {
                let v: Vec<serde_json::Value> = status
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "destination": s.destination, "pending": s.pending,
                            "sent": s.sent, "failed": s.failed, "open_items": s.open_items,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            if status.is_empty() {
                println!("outbox {} is empty", config.outbox.display());
            }
            for s in &status {
                println!(
                    "{}: {} pending, {} sent, {} failed",
                    s.destination, s.pending, s.sent, s.failed
                );
                for r in &s.open_items {
                    let state = match r.state {
                        ItemState::Pending => "pending",
                        ItemState::Failed => "FAILED",
                        ItemState::Sent => "sent",
                    };
                    println!(
                        "  {state:<8} {} attempts {}{}",
                        r.sop_instance_uid,
                        r.attempts,
                        r.last_error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        OutboxCommand::Flush {
            to,
            pacs,
            retry_failed,
            watch: keep_watching,
            timeout_s,
        } => {
            let config = load(&pacs)?;
            config.pacs(&to)?;
            if retry_failed {
                let n = Outbox::open(&config.outbox)?.requeue_failed(&to)?;
                println!("requeued {n} failed instances");
            }
            if keep_watching {
                return watch(&config, &to, timeout_s);
            }
            let sender = sender(&config, &to)?;
            let pending: Vec<String> = Outbox::open(&config.outbox)?
                .records(&to)?
                .into_iter()
                .filter(|r| r.state == ItemState::Pending)
                .map(|r| r.sop_instance_uid)
                .collect();
            let timeout = timeout_s.unwrap_or(Duration::from_secs(300));
            send_queued(&config, &to, &pending, sender, timeout, ctx)
        }
        OutboxCommand::Prune {
            to,
            older_than_days,
            pacs,
        } => {
            let config = load(&pacs)?;
            let n = Outbox::open(&config.outbox)?.prune_sent(&to, older_than_days)?;
            println!(
                "{to}: removed {n} instances confirmed more than {} days ago",
                older_than_days.as_secs_f64() / 86_400.0
            );
            Ok(())
        }
    }
}

pub fn bench_upload(args: BenchUploadArgs, ctx: &Context) -> Result<()> {
    roboct_bench::upload::check_peers()?;
    if args.slices == 0 || args.size == 0 || args.size > 4096 || args.repeats == 0 {
        bail!("--slices and --repeats must be > 0 and --size between 1 and 4096");
    }
    let options = roboct_bench::upload::BenchOptions {
        slices: args.slices,
        size: args.size,
        repeats: args.repeats,
        slab_interval: Duration::from_millis(args.slab_interval_ms),
        ..Default::default()
    };
    let bar = Bar::new(ctx.quiet);
    let report = roboct_bench::upload::run(&options, &bar)?;
    print!("{}", report.table(&options));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::PhiMask;

    #[test]
    fn patient_identifiers_are_masked_unless_shown() {
        let m = PhiMask::new(false);
        assert_eq!(m.name("DOE^JANE"), "D^J");
        assert_eq!(m.name("roe^richard^x^dr"), "R^R");
        assert_eq!(m.name("DOE"), "D");
        assert_eq!(m.name("Yamada^Tarou=山田^太郎"), "Y^T");
        assert_eq!(m.name(""), "");
        let id = m.id("PID-77");
        assert!(id.starts_with("***#") && id.len() == 8, "{id}");
        assert_eq!(
            m.id("PID-77"),
            id,
            "the same value, the same hint within a run"
        );
        assert_eq!(m.date("19700101"), "***");
        assert_eq!(m.date(""), "");
        let shown = PhiMask::new(true);
        assert_eq!(shown.name("DOE^JANE"), "DOE^JANE");
        assert_eq!(shown.id("PID-77"), "PID-77");
        assert_eq!(shown.date("19700101"), "19700101");
    }
}
