//! Real peers for the integration tests: Orthanc, dcmtk and pynetdicom on loopback, on free
//! ports, in temp dirs, stopped (and waited for) when dropped, even when a test panics.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use roboct_dicom::dimse::{AssociationOptions, Peer};

/// A free TCP port on 127.0.0.1 (bound then released; the race is acceptable in tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

/// A child process killed and reaped on drop.
pub struct Proc {
    pub child: Option<Child>,
    pub name: &'static str,
}

impl Proc {
    pub fn spawn(name: &'static str, cmd: &mut Command) -> Self {
        let child = cmd.stdin(Stdio::null()).spawn().unwrap_or_else(|e| {
            panic!("cannot start {name}: {e} (is it installed? ./scripts/deps)")
        });
        Self {
            child: Some(child),
            name,
        }
    }

    /// SIGKILL and wait: a crash, as far as the peer's disk state goes.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `port` accepts TCP connections.
pub fn wait_port(port: u16, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what} did not listen on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
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
        let proc = Proc::spawn(
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
        Peer {
            ae_title: "ORTHANC".into(),
            host: "127.0.0.1".into(),
            port: self.dicom_port,
        }
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

    /// Stops Orthanc and waits until it has exited (its database is locked until then).
    pub fn stop(&mut self) {
        if let Some(c) = self.proc.child.as_mut() {
            sigterm(c.id());
            let _ = c.wait();
        }
        self.proc.child = None;
    }
}

fn sigterm(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

/// The data set bytes of a Part 10 file (everything after the meta group).
pub fn dataset_bytes(part10: &[u8]) -> Vec<u8> {
    let info = roboct_dicom::part10::read_part10_info(part10).unwrap();
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
