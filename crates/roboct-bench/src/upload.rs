//! `roboct bench upload`: a 256-slice 512 x 512 CT series to a local Orthanc over loopback,
//! by C-STORE and STOW-RS through the outbox, next to dcmtk `storescu` sending the same files
//! in the same run, and the latency from a slab being ready to its first slice being stored.
//! Moved here from `roboct-dicom`, which no longer ships it (nor starts Orthanc or storescu).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use ndarray::Array3;
use roboct_core::Progress;
use roboct_dicom::config::{CredentialSource, HttpAuth, Secret};
use roboct_dicom::ct::{CtSeriesInfo, CtSeriesWriter, Instance, VoxelUnits};
use roboct_dicom::dimse::{AssociationOptions, Peer};
use roboct_dicom::outbox::Outbox;
use roboct_dicom::part10::EXPLICIT_VR_LE;
use roboct_dicom::send::{DimseSender, Sender, StowSender};
use roboct_dicom::study::StudyContext;
use roboct_dicom::uid::UidGenerator;
use roboct_dicom::upload::{StreamTarget, UploadPolicy, Uploader, stream_series};
use roboct_geometry::{VolumeGrid, VolumeSlab};

use crate::BenchError;
use crate::loopback::{ChildGuard, free_port};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Slices in the series.
    pub slices: usize,
    /// Rows and columns.
    pub size: usize,
    /// Runs of each method (best and spread are reported).
    pub repeats: usize,
    /// Slices per reconstruction slab in the latency run.
    pub slab: usize,
    /// Time between slabs in the latency run (the reconstruction's pace).
    pub slab_interval: Duration,
    /// STOW-RS instances per request.
    pub stow_batch: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            slices: 256,
            size: 512,
            repeats: 3,
            slab: 8,
            slab_interval: Duration::from_millis(100),
            stow_batch: 16,
        }
    }
}

/// Throughput of one method.
#[derive(Clone, Debug)]
pub struct MethodResult {
    /// Method name.
    pub name: String,
    /// Wall time of each run in s.
    pub seconds: Vec<f64>,
    /// Instances per run.
    pub instances: usize,
    /// Bytes of the files sent per run.
    pub bytes: u64,
}

impl MethodResult {
    /// The fastest run.
    pub fn best_s(&self) -> f64 {
        self.seconds.iter().cloned().fold(f64::INFINITY, f64::min)
    }
    /// The slowest run.
    pub fn worst_s(&self) -> f64 {
        self.seconds.iter().cloned().fold(0.0, f64::max)
    }
}

/// Latency of the real-time path.
#[derive(Clone, Debug)]
pub struct LatencyResult {
    /// From the first slab's arrival to its first slice stored, per run.
    pub first_slice: Vec<Duration>,
    /// Median slice latency (slab ready -> stored), per run.
    pub median: Vec<Duration>,
    /// 95th percentile, per run.
    pub p95: Vec<Duration>,
    /// Whether the first slice was stored before the last slab arrived, per run.
    pub first_before_last_slab: Vec<bool>,
}

/// Everything measured.
#[derive(Clone, Debug)]
pub struct BenchReport {
    /// Throughput per method.
    pub methods: Vec<MethodResult>,
    /// Real-time latency.
    pub latency: LatencyResult,
    /// Time to write and fsync the series into the outbox, per run, in s.
    pub enqueue_s: Vec<f64>,
}

impl BenchReport {
    /// The figures as `roboct bench upload` prints them for a run with options `o`: a heading,
    /// a table of methods (best; worst), the speed-up over dcmtk's storescu, the real-time
    /// latencies and the outbox's write rate; each line ends in a newline.
    pub fn table(&self, o: &BenchOptions) -> String {
        use std::fmt::Write as _;
        let rate = |n: usize, bytes: u64, s: f64| (n as f64 / s, bytes as f64 / 1e6 / s);
        let mut t = String::new();
        let mb = self.methods[0].bytes as f64 / 1e6;
        let _ = writeln!(
            t,
            "upload: {} CT slices of {} x {} ({mb:.1} MB) to Orthanc over loopback, {} runs each (best; worst)",
            o.slices, o.size, o.size, o.repeats
        );
        let _ = writeln!(
            t,
            "{:<28} {:>12} {:>10} {:>16}",
            "method", "instances/s", "MB/s", "time s"
        );
        for m in &self.methods {
            let (ips, mbs) = rate(m.instances, m.bytes, m.best_s());
            let (ips_w, _) = rate(m.instances, m.bytes, m.worst_s());
            let _ = writeln!(
                t,
                "{:<28} {:>6.0} ({:>3.0}) {:>10.1} {:>7.2} ({:.2})",
                m.name,
                ips,
                ips_w,
                mbs,
                m.best_s(),
                m.worst_s()
            );
        }
        let _ = writeln!(
            t,
            "roboct C-STORE / storescu throughput: {:.2}x",
            self.methods[0].best_s() / self.methods[1].best_s()
        );
        let ms = |d: &[Duration]| -> (f64, f64) {
            let v: Vec<f64> = d.iter().map(|x| x.as_secs_f64() * 1000.0).collect();
            (
                v.iter().cloned().fold(f64::INFINITY, f64::min),
                v.iter().cloned().fold(0.0, f64::max),
            )
        };
        let l = &self.latency;
        let (f_best, f_worst) = ms(&l.first_slice);
        let (m_best, m_worst) = ms(&l.median);
        let (p_best, p_worst) = ms(&l.p95);
        let _ = writeln!(
            t,
            "real time (slabs of 8 slices every {} ms, C-STORE): first-slice latency {:.1} ms ({:.1}), median slice latency {:.1} ms ({:.1}), p95 {:.1} ms ({:.1})",
            o.slab_interval.as_millis(),
            f_best,
            f_worst,
            m_best,
            m_worst,
            p_best,
            p_worst
        );
        let _ = writeln!(
            t,
            "first slice stored before the last slab was ready: {}",
            l.first_before_last_slab.iter().all(|b| *b)
        );
        let e_best = self.enqueue_s.iter().cloned().fold(f64::INFINITY, f64::min);
        let _ = writeln!(
            t,
            "writing + fsyncing the series into the outbox: {:.2} s ({:.0} instances/s)",
            e_best,
            o.slices as f64 / e_best
        );
        t
    }
}

/// Refuses to start unless Orthanc and dcmtk's storescu are installed.
pub fn check_peers() -> Result<(), BenchError> {
    for p in ["Orthanc", "storescu"] {
        if !have_program(p) {
            return Err(BenchError::Peer(format!(
                "`{p}` is not installed: run ./scripts/deps (it installs orthanc, orthanc-dicomweb and dcmtk)"
            )));
        }
    }
    Ok(())
}

const USER: &str = "bench";
const PASSWORD: &str = "bench-password";

/// A throw-away Orthanc on loopback (fresh storage), killed on drop.
struct LocalOrthanc {
    _child: ChildGuard,
    dicom_port: u16,
    http_port: u16,
    _dir: tempfile::TempDir,
}

fn wait_port(port: u16) -> Result<(), BenchError> {
    if crate::loopback::wait_port(port, Duration::from_secs(30)) {
        Ok(())
    } else {
        Err(BenchError::Peer(format!(
            "Orthanc did not listen on port {port}"
        )))
    }
}

impl LocalOrthanc {
    fn start(ae: &str) -> Result<Self, BenchError> {
        let dir = tempfile::tempdir()?;
        let (http_port, dicom_port) = (free_port()?, free_port()?);
        let d = dir.path().display();
        let config = format!(
            r#"{{ "Name": "BENCH", "StorageDirectory": "{d}/db", "IndexDirectory": "{d}/db",
  "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
  "HttpPort": {http_port}, "RemoteAccessAllowed": false,
  "AuthenticationEnabled": true, "RegisteredUsers": {{"{USER}": "{PASSWORD}"}},
  "DicomAet": "ORTHANC", "DicomPort": {dicom_port}, "DicomCheckCalledAet": true,
  "DicomAlwaysAllowStore": false, "DicomCheckModalityHost": true,
  "DicomModalities": {{"robot": ["{ae}", "127.0.0.1", 11112]}},
  "DicomAssociationCloseDelay": 0, "SaveJobs": false, "StorageCompression": false,
  "DicomWeb": {{"Enable": true, "Root": "/dicom-web/", "Host": "127.0.0.1:{http_port}", "Ssl": false}} }}"#
        );
        let cfg = dir.path().join("orthanc.json");
        std::fs::write(&cfg, config)?;
        let child = ChildGuard::spawn(
            "Orthanc",
            Command::new("Orthanc")
                .arg(&cfg)
                .env("TCP_NODELAY", "1")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .map_err(|e| BenchError::Peer(e.to_string()))?;
        let o = Self {
            _child: child,
            dicom_port,
            http_port,
            _dir: dir,
        };
        wait_port(dicom_port)?;
        wait_port(http_port)?;
        Ok(o)
    }

    fn peer(&self) -> Peer {
        Peer {
            ae_title: "ORTHANC".into(),
            host: "127.0.0.1".into(),
            port: self.dicom_port,
        }
    }

    fn count(&self) -> Result<usize, BenchError> {
        let body = reqwest::blocking::Client::new()
            .get(format!("http://127.0.0.1:{}/statistics", self.http_port))
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .and_then(|r| r.bytes())
            .map_err(|e| BenchError::Peer(format!("Orthanc statistics: {e}")))?;
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| BenchError::Peer(format!("Orthanc statistics: {e}")))?;
        Ok(v["CountInstances"].as_u64().unwrap_or(0) as usize)
    }
}

/// A water cylinder with bone ring and noise, in HU: realistic entropy for the files.
fn phantom_slab(size: usize, z0: usize, nz: usize, seed: u64) -> Array3<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let c = size as f32 / 2.0;
    Array3::from_shape_fn((nz, size, size), |(z, y, x)| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let noise = ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 40.0;
        let r = ((x as f32 - c).powi(2) + (y as f32 - c).powi(2)).sqrt() / c;
        let base = if r > 0.9 {
            -1000.0
        } else if r > 0.8 {
            700.0
        } else {
            40.0 + ((z + z0) % 16) as f32
        };
        base + noise
    })
}

fn grid(o: &BenchOptions) -> VolumeGrid {
    VolumeGrid::centered([o.size, o.size, o.slices], [0.7, 0.7, 1.0], [0.0; 3])
        .expect("fixed, valid grid")
}

fn make_series(o: &BenchOptions, uids: &UidGenerator) -> Result<Vec<Instance>, BenchError> {
    let g = grid(o);
    let w = CtSeriesWriter::new(
        StudyContext::unscheduled(uids),
        CtSeriesInfo::new(uids),
        uids.clone(),
    );
    let data = phantom_slab(o.size, 0, o.slices, 7);
    let v = roboct_geometry::Volume::from_array(g, data).expect("shape from grid");
    w.volume(&v, VoxelUnits::Hu)
        .map_err(|e| BenchError::Case(e.to_string()))
}

const AE: &str = "ROBOCT";

fn options() -> AssociationOptions {
    AssociationOptions::new(AE).dimse_timeout(Duration::from_secs(60))
}

fn policy() -> UploadPolicy {
    UploadPolicy {
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
        max_instances_per_s: None,
    }
}

fn check_count(orthanc: &LocalOrthanc, want: usize, method: &str) -> Result<(), BenchError> {
    let got = orthanc.count()?;
    if got != want {
        return Err(BenchError::Case(format!(
            "{method}: Orthanc holds {got} instances, expected {want}"
        )));
    }
    Ok(())
}

/// Runs the benchmark. Needs `Orthanc` (with the DICOMweb plugin) and dcmtk's `storescu`.
///
/// # Errors
/// [`BenchError::Peer`] when a peer is missing or fails, [`BenchError::Io`] for temporary
/// files, [`BenchError::Case`] when a step of the upload fails or Orthanc holds the wrong
/// number of instances.
pub fn run(o: &BenchOptions, progress: &dyn Progress) -> Result<BenchReport, BenchError> {
    let uids = UidGenerator::default();
    progress.start("making series", 1);
    let series = make_series(o, &uids)?;
    progress.finish();
    let bytes: u64 = series.iter().map(|i| i.bytes.len() as u64).sum();
    let files_dir = tempfile::tempdir()?;
    let mut files: Vec<PathBuf> = Vec::new();
    for (k, inst) in series.iter().enumerate() {
        let p = files_dir.path().join(format!("CT{k:04}.dcm"));
        std::fs::write(&p, &inst.bytes)?;
        files.push(p);
    }
    let mut methods = vec![
        MethodResult {
            name: "dcmtk storescu (files)".into(),
            seconds: vec![],
            instances: series.len(),
            bytes,
        },
        MethodResult {
            name: "roboct C-STORE (outbox)".into(),
            seconds: vec![],
            instances: series.len(),
            bytes,
        },
        MethodResult {
            name: "roboct STOW-RS (outbox)".into(),
            seconds: vec![],
            instances: series.len(),
            bytes,
        },
    ];
    let mut enqueue_s = Vec::new();
    let mut latency = LatencyResult {
        first_slice: vec![],
        median: vec![],
        p95: vec![],
        first_before_last_slab: vec![],
    };
    progress.start("runs", (o.repeats * 4) as u64);
    for _ in 0..o.repeats {
        // storescu: the same files, one association.
        {
            let orthanc = LocalOrthanc::start(AE)?;
            let t = Instant::now();
            let out = Command::new("storescu")
                .args([
                    "-aet",
                    AE,
                    "-aec",
                    "ORTHANC",
                    "127.0.0.1",
                    &orthanc.dicom_port.to_string(),
                ])
                .args(&files)
                .env("TCP_NODELAY", "1")
                .output()
                .map_err(|e| {
                    BenchError::Peer(format!("cannot run storescu: {e} (apt-get install dcmtk)"))
                })?;
            let s = t.elapsed().as_secs_f64();
            if !out.status.success() {
                return Err(BenchError::Peer(format!(
                    "storescu failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )));
            }
            check_count(&orthanc, series.len(), "storescu")?;
            methods[0].seconds.push(s);
            progress.advance(1);
        }
        // roboct C-STORE and STOW-RS, each from a freshly filled outbox.
        for (m, stow) in [(1usize, false), (2, true)] {
            let orthanc = LocalOrthanc::start(AE)?;
            let box_dir = tempfile::tempdir()?;
            let outbox =
                Outbox::open(box_dir.path()).map_err(|e| BenchError::Case(e.to_string()))?;
            let t = Instant::now();
            for inst in &series {
                outbox
                    .enqueue("pacs", &inst.bytes)
                    .map_err(|e| BenchError::Case(e.to_string()))?;
            }
            if !stow {
                enqueue_s.push(t.elapsed().as_secs_f64());
            }
            let sender: Box<dyn Sender> = if stow {
                Box::new(
                    StowSender::new(
                        &format!("http://127.0.0.1:{}/dicom-web", orthanc.http_port),
                        HttpAuth::Basic {
                            username: USER.into(),
                            password: CredentialSource::Value(Secret::new(PASSWORD)),
                        },
                        None,
                        Duration::from_secs(120),
                        o.stow_batch,
                    )
                    .map_err(|e| BenchError::Case(e.to_string()))?,
                )
            } else {
                Box::new(DimseSender::new(orthanc.peer(), options(), EXPLICIT_VR_LE))
            };
            let mut up = Uploader::new(outbox, "pacs", sender, policy())
                .map_err(|e| BenchError::Case(e.to_string()))?;
            let t = Instant::now();
            let r = up
                .run(None, &roboct_core::NoProgress)
                .map_err(|e| BenchError::Case(e.to_string()))?;
            let s = t.elapsed().as_secs_f64();
            if r.sent != series.len() {
                return Err(BenchError::Case(format!(
                    "{}: sent {} of {}: {:?}",
                    methods[m].name,
                    r.sent,
                    series.len(),
                    r.last_transient_error
                )));
            }
            check_count(&orthanc, series.len(), &methods[m].name)?;
            methods[m].seconds.push(s);
            progress.advance(1);
        }
        // Real time: slabs from a "reconstruction" thread, streamed by C-STORE.
        {
            let orthanc = LocalOrthanc::start(AE)?;
            let box_dir = tempfile::tempdir()?;
            let outbox =
                Outbox::open(box_dir.path()).map_err(|e| BenchError::Case(e.to_string()))?;
            let g = grid(o);
            let (tx, rx) = channel();
            let (slab, interval, slices, size) = (o.slab.max(1), o.slab_interval, o.slices, o.size);
            let slabs: Vec<Array3<f32>> = (0..slices)
                .step_by(slab)
                .map(|z0| phantom_slab(size, z0, slab.min(slices - z0), z0 as u64))
                .collect();
            let producer = std::thread::spawn(move || {
                for (i, data) in slabs.into_iter().enumerate() {
                    std::thread::sleep(interval);
                    if tx
                        .send(VolumeSlab {
                            z_start: i * slab,
                            data,
                            volume_grid: g.clone(),
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            });
            let w = CtSeriesWriter::new(
                StudyContext::unscheduled(&uids),
                CtSeriesInfo::new(&uids),
                uids.clone(),
            );
            let r = stream_series(
                rx,
                &w,
                VoxelUnits::Hu,
                StreamTarget {
                    outbox,
                    destination: "pacs".into(),
                    sender: Box::new(DimseSender::new(orthanc.peer(), options(), EXPLICIT_VR_LE)),
                    policy: policy(),
                    drain_timeout: Duration::from_secs(120),
                },
            )
            .map_err(|e| BenchError::Case(e.to_string()))?;
            let _ = producer.join();
            if r.upload.sent != slices {
                return Err(BenchError::Case(format!(
                    "streaming sent {} of {slices}",
                    r.upload.sent
                )));
            }
            check_count(&orthanc, slices, "streaming")?;
            let mut l = r.latencies.clone();
            l.sort();
            latency
                .first_slice
                .push(r.first_slice_latency.unwrap_or_default());
            latency.median.push(l[l.len() / 2]);
            latency.p95.push(l[(l.len() * 95 / 100).min(l.len() - 1)]);
            latency
                .first_before_last_slab
                .push(match (r.first_stored_at, r.last_slab_at) {
                    (Some(a), Some(b)) => a < b,
                    _ => false,
                });
            progress.advance(1);
        }
    }
    progress.finish();
    Ok(BenchReport {
        methods,
        latency,
        enqueue_s,
    })
}

/// Whether a peer program is on the PATH.
pub fn have_program(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| Path::new(&d).join(name).is_file()))
        .unwrap_or(false)
}
