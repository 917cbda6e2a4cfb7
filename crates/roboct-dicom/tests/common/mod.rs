//! Real peers for the integration tests: Orthanc, dcmtk and pynetdicom on loopback, on free
//! ports, in temp dirs, stopped (and waited for) when dropped, even when a test panics.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use roboct_bench::loopback::ChildGuard as Proc;
use roboct_dicom::dimse::{AssociationOptions, Peer};

/// A free TCP port on 127.0.0.1 (bound then released; the race is acceptable in tests).
pub fn free_port() -> u16 {
    roboct_bench::loopback::free_port().unwrap()
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The test venv's python (pydicom, pynetdicom), from `ROBOCT_TEST_VENV` or `./.venv`.
pub fn python() -> PathBuf {
    let venv = std::env::var_os("ROBOCT_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "no test venv at {}: run ./scripts/deps first",
        venv.display()
    );
    py
}

/// Starts a peer process, stopped when the guard drops (also when the test panics).
pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
    Proc::spawn(name, cmd).unwrap_or_else(|e| panic!("{e}"))
}

/// Waits until `port` accepts TCP connections.
pub fn wait_port(port: u16, what: &str) {
    assert!(
        roboct_bench::loopback::wait_port(port, Duration::from_secs(20)),
        "{what} did not listen on port {port}"
    );
}

/// Polls `done` every 10 ms until it holds; panics with `what` after a minute. The minute is
/// a guard against a hang, not a timing window: every test gates on events.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub const OUR_AE: &str = "ROBOCT";

pub fn options() -> AssociationOptions {
    AssociationOptions::new(OUR_AE).dimse_timeout(Duration::from_secs(10))
}

/// Orthanc with the DICOMweb and worklist plugins, basic auth, our AE registered.
pub struct Orthanc {
    pub dir: PathBuf,
    pub http_port: u16,
    pub dicom_port: u16,
    pub proc: Proc,
    _tmp: Option<tempfile::TempDir>,
}

pub const ORTHANC_USER: &str = "robot";
pub const ORTHANC_PASSWORD: &str = "test-password";

impl Orthanc {
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut o = Self::start_in(&dir, free_port(), free_port(), None);
        o._tmp = Some(tmp);
        o
    }

    /// Starts (or restarts) Orthanc on `dir`; `extra` is merged into the JSON config.
    pub fn start_in(dir: &Path, http_port: u16, dicom_port: u16, extra: Option<&str>) -> Self {
        std::fs::create_dir_all(dir.join("worklists")).unwrap();
        // Orthanc keeps one copy per SOP Instance UID and answers a resend with success, so
        // what it stores cannot show a duplicate. This filter runs for every instance that
        // arrives, by C-STORE or STOW-RS, before Orthanc decides anything, and appends its
        // UID to a log that survives a restart: the count of receptions.
        let lua = dir.join("count_receptions.lua");
        std::fs::write(
            &lua,
            format!(
                r#"function ReceivedInstanceFilter(dicom, origin, info)
  local f = io.open("{}", "a")
  f:write(dicom.SOPInstanceUID .. "\n")
  f:close()
  return true
end
"#,
                dir.join("receptions.log").display()
            ),
        )
        .unwrap();
        let mut config = format!(
            r#"{{ "Name": "TEST-PACS", "StorageDirectory": "{d}/db", "IndexDirectory": "{d}/db",
  "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
              "/usr/share/orthanc/plugins/libModalityWorklists.so"],
  "Worklists": {{"Enable": true, "Database": "{d}/worklists"}},
  "HttpPort": {http_port}, "RemoteAccessAllowed": false,
  "AuthenticationEnabled": true, "RegisteredUsers": {{"{ORTHANC_USER}": "{ORTHANC_PASSWORD}"}},
  "DicomAet": "ORTHANC", "DicomPort": {dicom_port}, "DicomCheckCalledAet": true,
  "DicomAlwaysAllowEcho": true, "DicomAlwaysAllowStore": false, "DicomCheckModalityHost": true,
  "DicomModalities": {{"robot": ["{OUR_AE}", "127.0.0.1", 11112]}},
  "DicomAssociationCloseDelay": 0, "SaveJobs": false, "StorageCompression": false,
  "LuaScripts": ["{d}/count_receptions.lua"],
  "DicomWeb": {{"Enable": true, "Root": "/dicom-web/", "Host": "127.0.0.1:{http_port}", "Ssl": false}}"#,
            d = dir.display()
        );
        if let Some(extra) = extra {
            config.push_str(", ");
            config.push_str(extra);
        }
        config.push_str(" }");
        let cfg = dir.join("orthanc.json");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("orthanc.log"))
            .unwrap();
        let proc = spawn(
            "Orthanc",
            Command::new("Orthanc")
                .arg(&cfg)
                .env("TCP_NODELAY", "1")
                .stdout(log.try_clone().unwrap())
                .stderr(log),
        );
        wait_port(dicom_port, "Orthanc DICOM");
        wait_port(http_port, "Orthanc HTTP");
        Self {
            dir: dir.to_path_buf(),
            http_port,
            dicom_port,
            proc,
            _tmp: None,
        }
    }

    pub fn peer(&self) -> Peer {
        loopback_peer("ORTHANC", self.dicom_port)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// GET a REST resource with curl-free blocking reqwest.
    pub fn get(&self, path: &str) -> Vec<u8> {
        let client = reqwest::blocking::Client::new();
        let r = client
            .get(format!("{}{path}", self.url()))
            .basic_auth(ORTHANC_USER, Some(ORTHANC_PASSWORD))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.bytes().unwrap().to_vec()
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        serde_json::from_slice(&self.get(path)).unwrap()
    }

    /// SOP Instance UID -> stored file bytes, for every instance Orthanc holds.
    pub fn stored(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        let ids = self.get_json("/instances");
        let mut out = std::collections::BTreeMap::new();
        for id in ids.as_array().unwrap() {
            let id = id.as_str().unwrap();
            let tags = self.get_json(&format!("/instances/{id}/simplified-tags"));
            let uid = tags["SOPInstanceUID"].as_str().unwrap().to_string();
            let bytes = self.get(&format!("/instances/{id}/file"));
            assert!(
                out.insert(uid, bytes).is_none(),
                "duplicate instance in Orthanc"
            );
        }
        out
    }

    /// How many times each SOP Instance UID arrived, by any route, over every run of this
    /// Orthanc's folder.
    pub fn receptions(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        let log = std::fs::read_to_string(self.dir.join("receptions.log")).unwrap_or_default();
        for uid in log.lines().filter(|l| !l.is_empty()) {
            *out.entry(uid.to_string()).or_insert(0) += 1;
        }
        out
    }

    /// Stops Orthanc and waits until it has exited (its database is locked until then).
    pub fn stop(&mut self) {
        self.proc.terminate();
    }
}

/// Every instance is in Orthanc with the data set bytes we wrote, and arrived exactly once,
/// except those in `resent`, which arrived exactly twice (a resend after a crash swallowed
/// the PACS's confirmation). A third copy, or a second one of anything else, fails.
pub fn assert_arrived(
    orthanc: &Orthanc,
    instances: &[roboct_dicom::ct::Instance],
    resent: &[&str],
) {
    let stored = orthanc.stored();
    assert_eq!(stored.len(), instances.len(), "instance count in the PACS");
    for i in instances {
        let got = stored
            .get(&i.sop_instance_uid)
            .unwrap_or_else(|| panic!("{} missing", i.sop_instance_uid));
        assert!(
            dataset_bytes(got) == dataset_bytes(&i.bytes),
            "{} differs from what was written",
            i.sop_instance_uid
        );
    }
    let receptions = orthanc.receptions();
    for i in instances {
        let want = if resent.contains(&i.sop_instance_uid.as_str()) {
            2
        } else {
            1
        };
        assert_eq!(
            receptions.get(&i.sop_instance_uid).copied().unwrap_or(0),
            want,
            "receptions of {}",
            i.sop_instance_uid
        );
    }
    assert_eq!(
        receptions.values().sum::<usize>(),
        instances.len() + resent.len(),
        "receptions in all: {receptions:?}"
    );
}

/// [`assert_arrived`] with no resend allowed.
pub fn assert_all_arrived(orthanc: &Orthanc, instances: &[roboct_dicom::ct::Instance]) {
    assert_arrived(orthanc, instances, &[]);
}

/// The data set bytes of a Part 10 file (everything after the meta group). A deflated data
/// set is inflated and written as explicit VR little endian: a PACS may deflate it again with
/// other settings, which changes the compressed bytes but not the data.
pub fn dataset_bytes(part10: &[u8]) -> Vec<u8> {
    use roboct_dicom::part10::{DEFLATED_EXPLICIT_VR_LE, EXPLICIT_VR_LE, decode_part10};
    let info = roboct_dicom::part10::read_part10_info(part10).unwrap();
    if info.transfer_syntax_uid == DEFLATED_EXPLICIT_VR_LE {
        let (_, obj) = decode_part10(part10).unwrap();
        return roboct_dicom::part10::encode_dataset(&obj, EXPLICIT_VR_LE).unwrap();
    }
    part10[info.dataset_offset..].to_vec()
}

/// Runs dciodvfy and returns its error lines (warnings are allowed).
pub fn dciodvfy_errors(path: &Path) -> Vec<String> {
    let out = Command::new("dciodvfy")
        .arg(path)
        .output()
        .expect("dciodvfy (dicom3tools) is not installed: run ./scripts/deps");
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| l.starts_with("Error"))
        .map(|l| l.to_string())
        .collect()
}

/// dcmdump output; panics if dcmdump cannot parse the file.
pub fn dcmdump(path: &Path) -> String {
    let out = Command::new("dcmdump")
        .arg("+L")
        .arg(path)
        .output()
        .expect("dcmdump (dcmtk) is not installed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("E:"),
        "dcmdump failed on {}: {err}",
        path.display()
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Runs a Python snippet in the test venv with `args`; returns stdout, panics on failure.
pub fn run_python(code: &str, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

// ---- What the upload tests share -----------------------------------------------------------

use ndarray::Array3;
use roboct_dicom::config::{CredentialSource, HttpAuth, Secret};
use roboct_dicom::ct::{CtSeriesInfo, CtSeriesWriter, Instance, VoxelUnits};
use roboct_dicom::outbox::Outbox;
use roboct_dicom::send::{DimseSender, Sender, StowSender};
use roboct_dicom::study::StudyContext;
use roboct_dicom::uid::UidGenerator;
use roboct_dicom::upload::{UploadPolicy, Uploader};
use roboct_geometry::{Volume, VolumeGrid};

/// A CT series writer for a patient whose name would be a leak if it showed up in errors.
pub fn writer(uids: &UidGenerator) -> CtSeriesWriter {
    let mut study = StudyContext::unscheduled(uids);
    study.patient.id = roboct_core::Phi::new("PID-UP".into());
    study.patient.name = roboct_core::Phi::new("DOE^JOHN".into());
    CtSeriesWriter::new(study, CtSeriesInfo::new(uids), uids.clone())
}

pub fn grid(n: usize, nz: usize) -> VolumeGrid {
    VolumeGrid::centered([n, n, nz], [0.8, 0.8, 1.5], [0.0, 0.0, 0.0]).unwrap()
}

/// `nz` slices of `n` x `n`, a new series.
pub fn series(n: usize, nz: usize) -> Vec<Instance> {
    let uids = UidGenerator::default();
    let data = Array3::from_shape_fn((nz, n, n), |(z, y, x)| (z * 7 + y + x) as f32 - 500.0);
    let v = Volume::from_array(grid(n, nz), data).unwrap();
    writer(&uids).volume(&v, VoxelUnits::Hu).unwrap()
}

pub fn fast_policy() -> UploadPolicy {
    UploadPolicy {
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(800),
        max_instances_per_s: None,
    }
}

/// A DICOM peer on 127.0.0.1.
pub fn loopback_peer(ae_title: &str, port: u16) -> Peer {
    Peer {
        ae_title: ae_title.into(),
        host: "127.0.0.1".into(),
        port,
    }
}

/// Queues every instance for the destination "pacs"; their SOP Instance UIDs.
pub fn enqueue_all(outbox: &Outbox, instances: &[Instance]) -> Vec<String> {
    instances
        .iter()
        .map(|i| outbox.enqueue("pacs", &i.bytes).unwrap().uid().to_string())
        .collect()
}

/// An uploader for the destination "pacs" with the tests' short backoff.
pub fn pacs_uploader(outbox: &Outbox, sender: Box<dyn Sender>) -> Uploader {
    Uploader::new(outbox.clone(), "pacs", sender, fast_policy()).unwrap()
}

pub fn dimse_to(peer: Peer) -> Box<dyn Sender> {
    Box::new(DimseSender::new(
        peer,
        options(),
        roboct_dicom::part10::EXPLICIT_VR_LE,
    ))
}

pub fn orthanc_auth() -> HttpAuth {
    HttpAuth::Basic {
        username: ORTHANC_USER.into(),
        password: CredentialSource::Value(Secret::new(ORTHANC_PASSWORD)),
    }
}

pub fn stow_to(url: &str, auth: HttpAuth) -> StowSender {
    StowSender::new(url, auth, None, Duration::from_secs(10), 8).unwrap()
}

/// The instances the outbox holds for `destination`, in queue order, with their bytes.
pub fn outbox_instances(outbox: &roboct_dicom::outbox::Outbox, destination: &str) -> Vec<Instance> {
    outbox
        .records(destination)
        .unwrap()
        .into_iter()
        .map(|r| Instance {
            bytes: outbox
                .read_object(destination, &r.sop_instance_uid)
                .unwrap(),
            sop_class_uid: r.sop_class_uid,
            sop_instance_uid: r.sop_instance_uid,
            series_instance_uid: String::new(),
        })
        .collect()
}

/// How many of `destination`'s instances are in `state`.
pub fn count_in(
    outbox: &roboct_dicom::outbox::Outbox,
    destination: &str,
    state: roboct_dicom::outbox::ItemState,
) -> usize {
    outbox
        .records(destination)
        .unwrap()
        .iter()
        .filter(|r| r.state == state)
        .count()
}
