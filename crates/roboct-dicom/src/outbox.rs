//! The durable store-and-forward outbox: nothing given to it is lost.
//!
//! Layout, one folder per destination:
//!
//! ```text
//! <root>/<destination>/objects/<SOP Instance UID>.dcm   the Part 10 file, byte for byte
//! <root>/<destination>/state/<SOP Instance UID>.json    its state (pending, sent, failed)
//! <root>/<destination>/uploader.lock                    held by the one running uploader
//! ```
//!
//! The object file is the durable record: it goes to a temporary file that is fsynced, renamed
//! into place and followed by an fsync of the folder, so after a crash it is either complete or
//! absent, and [`Outbox::enqueue`] returns only once it is on disk. The folders themselves are
//! made durable before anything is published in them: a folder the outbox creates has its
//! parent fsynced, and the first use of a destination in a process fsyncs the chain
//! `root/..`, `root`, `root/<destination>` once (a folder left by a process that was killed
//! before its parent reached the disk would otherwise take every later object with it in a
//! power cut). `tests/outbox_crash.rs` records the system calls of an enqueue with strace,
//! checks their order and replays every prefix of them under a power-cut model. State files are written
//! atomically (temporary file and rename) but not fsynced: after a crash a state may be missing,
//! empty or older than the truth, and every such case reads as *pending*, so the worst a crash
//! can do is send an instance a second time, which the PACS absorbs because the SOP Instance UID
//! is the same (and which is why "sent" never needs to wait for the disk). An instance is keyed
//! by its SOP Instance UID: enqueueing the same bytes twice is a no-op, different bytes under the
//! same UID are refused.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::part10::read_part10_info;
use crate::uid::is_valid_uid;

/// Where an instance stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemState {
    /// Waiting to be sent (never tried, or waiting to retry after a transient failure).
    Pending,
    /// The destination confirmed storage.
    Sent,
    /// The destination refused it in a way that retrying will not fix; kept until an operator
    /// requeues it (`roboct outbox retry`).
    Failed,
}

/// The state record of one instance.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ItemRecord {
    /// SOP Instance UID (the key).
    pub sop_instance_uid: String,
    /// SOP Class UID.
    pub sop_class_uid: String,
    /// Transfer syntax of the stored file.
    pub transfer_syntax_uid: String,
    /// Size of the file in bytes.
    pub size_bytes: u64,
    /// Queue order (nanoseconds since the epoch at enqueue, made strictly increasing).
    pub seq: u64,
    /// State.
    pub state: ItemState,
    /// Send attempts so far.
    pub attempts: u32,
    /// The last error, if any (never patient data: DIMSE statuses and network errors).
    pub last_error: Option<String>,
    /// Earliest time of the next attempt, ms since the epoch.
    pub next_attempt_ms: u64,
    /// When it was queued, ms since the epoch.
    pub enqueued_ms: u64,
    /// When the destination confirmed it, ms since the epoch.
    pub sent_ms: Option<u64>,
}

/// What [`Outbox::enqueue`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// Newly queued.
    New(String),
    /// Already queued or sent with identical bytes: nothing done.
    Duplicate(String, ItemState),
}

impl Enqueued {
    /// The SOP Instance UID.
    pub fn uid(&self) -> &str {
        match self {
            Enqueued::New(u) | Enqueued::Duplicate(u, _) => u,
        }
    }
}

/// Why an outbox operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// File system error.
    #[error("outbox {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not a Part 10 object we can key.
    #[error("cannot queue {what}: {why}")]
    NotDicom {
        /// Which input.
        what: String,
        /// Why.
        why: String,
    },
    /// Same SOP Instance UID, different content: refusing to replace what may be on the PACS.
    #[error(
        "SOP Instance UID {uid} is already in the outbox for {destination} with different content: refusing to send two different objects under one UID"
    )]
    Conflict {
        /// The UID.
        uid: String,
        /// The destination.
        destination: String,
    },
    /// Another uploader holds the destination's lock.
    #[error("another uploader is already sending to {destination} (lock {path} is held)")]
    Busy {
        /// The destination.
        destination: String,
        /// The lock file.
        path: PathBuf,
    },
    /// A destination name that cannot be a folder name.
    #[error("destination name `{0}` must be letters, digits, `-` or `_`")]
    BadDestination(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutboxError + '_ {
    move |source| OutboxError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn next_seq() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev + 1);
        match LAST.compare_exchange(prev, next, Ordering::SeqCst, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(p) => prev = p,
        }
    }
}

/// Writes `bytes` to `path` atomically and durably (temp file, fsync, rename, fsync folder).
pub fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), OutboxError> {
    write_atomically(path, bytes, true)
}

/// Writes `bytes` to `path` atomically (temp file, rename), fsyncing only when `durable`.
fn write_atomically(path: &Path, bytes: &[u8], durable: bool) -> Result<(), OutboxError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    if durable {
        f.sync_all().map_err(io(&tmp))?;
    }
    drop(f);
    fs::rename(&tmp, path).map_err(io(path))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

/// fsyncs a folder, so that the entries created, renamed or removed in it survive a power cut.
pub fn sync_dir(dir: &Path) -> Result<(), OutboxError> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Creates `dir` and its missing parents durably: each folder created has its parent fsynced
/// before the next step, so a folder never vanishes in a power cut once this returns (an
/// fsync of a file or of the folder itself does not make the folder's own name durable).
pub fn create_dir_durably(dir: &Path) -> Result<(), OutboxError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cur = dir;
    while !cur.as_os_str().is_empty() && !cur.is_dir() {
        missing.push(cur);
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    for d in missing.into_iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => {}
            // Made at the same moment by another process, which may not have synced it
            // yet: syncing the parent below is harmless and closes that window.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(io(d)(e)),
        }
        sync_dir(d.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(())
}

/// A `.tmp-<pid>-<n>` file whose writer process is gone (a crash mid-write). Temporary
/// files of live processes are in-flight writes and must be left alone.
fn is_abandoned_temp(path: &Path) -> bool {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().to_string()) else {
        return false;
    };
    let Some(pid) = name
        .strip_prefix(".tmp-")
        .and_then(|r| r.split('-').next())
        .and_then(|p| p.parse::<u32>().ok())
    else {
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    if Path::new("/proc/self").exists() {
        return !Path::new("/proc").join(pid.to_string()).exists();
    }
    // Without /proc, only clearly stale files (an hour old) are removed.
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > Duration::from_secs(3600))
}

/// The outbox rooted at one folder.
#[derive(Clone, Debug)]
pub struct Outbox {
    root: PathBuf,
    /// Destinations whose folder chain this process has made durable (see the module docs).
    synced: Arc<Mutex<HashSet<String>>>,
}

/// Counts and the not-yet-sent items of one destination.
#[derive(Clone, Debug, PartialEq)]
pub struct DestinationStatus {
    /// Destination name.
    pub destination: String,
    /// Items waiting to be sent.
    pub pending: usize,
    /// Items confirmed.
    pub sent: usize,
    /// Items refused for good.
    pub failed: usize,
    /// The pending and failed items, oldest first.
    pub open_items: Vec<ItemRecord>,
}

impl Outbox {
    /// Opens (creating if needed) the outbox at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, OutboxError> {
        let root = root.into();
        create_dir_durably(&root)?;
        Ok(Self {
            root,
            synced: Arc::default(),
        })
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dest_dir(&self, destination: &str) -> Result<PathBuf, OutboxError> {
        if destination.is_empty()
            || !destination
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(OutboxError::BadDestination(destination.to_string()));
        }
        let d = self.root.join(destination);
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        // Checked on every call: a folder deleted under a running process is made again.
        let present = d.join("objects").is_dir() && d.join("state").is_dir();
        if !present || !synced.contains(destination) {
            for sub in ["objects", "state"] {
                create_dir_durably(&d.join(sub))?;
            }
            // The folders may come from an earlier process that was killed before their
            // names reached the disk: make the whole chain durable once per process.
            if let Some(parent) = self.root.parent() {
                sync_dir(parent)?;
            }
            sync_dir(&self.root)?;
            sync_dir(&d)?;
            synced.insert(destination.to_string());
        }
        Ok(d)
    }

    /// Path of the stored object.
    pub fn object_path(&self, destination: &str, uid: &str) -> Result<PathBuf, OutboxError> {
        Ok(self
            .dest_dir(destination)?
            .join("objects")
            .join(format!("{uid}.dcm")))
    }

    fn state_path(&self, destination: &str, uid: &str) -> Result<PathBuf, OutboxError> {
        Ok(self
            .dest_dir(destination)?
            .join("state")
            .join(format!("{uid}.json")))
    }

    /// Stores `bytes` (a Part 10 file) durably and queues it for `destination`.
    ///
    /// Returns only after the object is on disk (fsynced file and folder).
    pub fn enqueue(&self, destination: &str, bytes: &[u8]) -> Result<Enqueued, OutboxError> {
        let info = read_part10_info(bytes).map_err(|e| OutboxError::NotDicom {
            what: "object".into(),
            why: e.to_string(),
        })?;
        let uid = info.sop_instance_uid.clone();
        if !is_valid_uid(&uid) {
            return Err(OutboxError::NotDicom {
                what: "object".into(),
                why: format!("SOP Instance UID `{uid}` is not a valid UID"),
            });
        }
        let object = self.object_path(destination, &uid)?;
        let state = self.state_path(destination, &uid)?;
        if object.exists() {
            let existing = fs::read(&object).map_err(io(&object))?;
            if existing != bytes {
                return Err(OutboxError::Conflict {
                    uid,
                    destination: destination.to_string(),
                });
            }
            if let Some(rec) = self.read_state(&state)? {
                return Ok(Enqueued::Duplicate(uid, rec.state));
            }
            // Object without state: a crash between the two writes; write the state now.
        } else {
            write_durably(&object, bytes)?;
        }
        let now = now_ms();
        let rec = ItemRecord {
            sop_instance_uid: uid.clone(),
            sop_class_uid: info.sop_class_uid,
            transfer_syntax_uid: info.transfer_syntax_uid,
            size_bytes: bytes.len() as u64,
            seq: next_seq(),
            state: ItemState::Pending,
            attempts: 0,
            last_error: None,
            next_attempt_ms: 0,
            enqueued_ms: now,
            sent_ms: None,
        };
        self.write_state(destination, &rec)?;
        Ok(Enqueued::New(uid))
    }

    /// A state record; `None` when absent or unreadable (a crash before it reached the disk),
    /// which callers treat as pending.
    fn read_state(&self, path: &Path) -> Result<Option<ItemRecord>, OutboxError> {
        match fs::read(path) {
            Ok(b) => match serde_json::from_slice(&b) {
                Ok(rec) => Ok(Some(rec)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "unreadable outbox state: treating the instance as pending");
                    let _ = fs::remove_file(path);
                    Ok(None)
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(path)(e)),
        }
    }

    /// Writes a state record atomically (not fsynced: see the module docs).
    pub fn write_state(&self, destination: &str, rec: &ItemRecord) -> Result<(), OutboxError> {
        let path = self.state_path(destination, &rec.sop_instance_uid)?;
        let json = serde_json::to_vec_pretty(rec).expect("records always serialise");
        write_atomically(&path, &json, false)
    }

    /// The state of one instance.
    pub fn record(&self, destination: &str, uid: &str) -> Result<Option<ItemRecord>, OutboxError> {
        let path = self.state_path(destination, uid)?;
        self.read_state(&path)
    }

    /// Reads a queued object.
    pub fn read_object(&self, destination: &str, uid: &str) -> Result<Vec<u8>, OutboxError> {
        let p = self.object_path(destination, uid)?;
        fs::read(&p).map_err(io(&p))
    }

    /// Every record of `destination`, in queue order. Recovers from a crash on the way:
    /// objects without a state are queued again, leftover temporary files removed.
    pub fn records(&self, destination: &str) -> Result<Vec<ItemRecord>, OutboxError> {
        let dir = self.dest_dir(destination)?;
        for sub in ["objects", "state"] {
            let d = dir.join(sub);
            for e in fs::read_dir(&d).map_err(io(&d))? {
                let p = e.map_err(io(&d))?.path();
                if is_abandoned_temp(&p) {
                    let _ = fs::remove_file(&p);
                }
            }
        }
        let objects = dir.join("objects");
        let mut out = Vec::new();
        for e in fs::read_dir(&objects).map_err(io(&objects))? {
            let p = e.map_err(io(&objects))?.path();
            let Some(uid) = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".dcm"))
                .map(str::to_string)
            else {
                continue;
            };
            let state = self.state_path(destination, &uid)?;
            match self.read_state(&state)? {
                Some(rec) => out.push(rec),
                None => {
                    let bytes = fs::read(&p).map_err(io(&p))?;
                    if let Ok(Enqueued::New(_)) = self.enqueue(destination, &bytes)
                        && let Some(rec) = self.read_state(&state)?
                    {
                        out.push(rec);
                    }
                }
            }
        }
        out.sort_by(|a, b| (a.seq, &a.sop_instance_uid).cmp(&(b.seq, &b.sop_instance_uid)));
        Ok(out)
    }

    /// The destinations that have a folder.
    pub fn destinations(&self) -> Result<Vec<String>, OutboxError> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.root).map_err(io(&self.root))? {
            let e = e.map_err(io(&self.root))?;
            if e.path().join("state").is_dir() {
                out.push(e.file_name().to_string_lossy().to_string());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Status of every destination.
    pub fn status(&self) -> Result<Vec<DestinationStatus>, OutboxError> {
        self.destinations()?
            .into_iter()
            .map(|d| {
                let recs = self.records(&d)?;
                let count = |s| recs.iter().filter(|r| r.state == s).count();
                Ok(DestinationStatus {
                    pending: count(ItemState::Pending),
                    sent: count(ItemState::Sent),
                    failed: count(ItemState::Failed),
                    open_items: recs
                        .iter()
                        .filter(|r| r.state != ItemState::Sent)
                        .cloned()
                        .collect(),
                    destination: d,
                })
            })
            .collect()
    }

    /// Puts the failed items of `destination` back in the queue; returns how many.
    pub fn requeue_failed(&self, destination: &str) -> Result<usize, OutboxError> {
        let mut n = 0;
        for mut rec in self.records(destination)? {
            if rec.state == ItemState::Failed {
                rec.state = ItemState::Pending;
                rec.next_attempt_ms = 0;
                self.write_state(destination, &rec)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Deletes instances of `destination` that the PACS confirmed more than `older_than`
    /// ago (object and state); pending and failed instances are never touched. Returns how
    /// many were removed.
    pub fn prune_sent(
        &self,
        destination: &str,
        older_than: Duration,
    ) -> Result<usize, OutboxError> {
        let cutoff = now_ms().saturating_sub(older_than.as_millis() as u64);
        let mut n = 0;
        for rec in self.records(destination)? {
            if rec.state == ItemState::Sent && rec.sent_ms.is_some_and(|t| t <= cutoff) {
                // Object first: a state without its object is ignored, whereas an object
                // without its state would be queued again.
                let state = self.state_path(destination, &rec.sop_instance_uid)?;
                let object = self.object_path(destination, &rec.sop_instance_uid)?;
                fs::remove_file(&object).map_err(io(&object))?;
                fs::remove_file(&state).map_err(io(&state))?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Takes the exclusive uploader lock of `destination` (released when the guard drops or
    /// the process dies), so two uploaders never send the same queue at once.
    pub fn lock(&self, destination: &str) -> Result<UploaderLock, OutboxError> {
        let path = self.dest_dir(destination)?.join("uploader.lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        match f.try_lock() {
            Ok(()) => Ok(UploaderLock {
                _file: f,
                destination: destination.to_string(),
            }),
            Err(fs::TryLockError::WouldBlock) => Err(OutboxError::Busy {
                destination: destination.to_string(),
                path,
            }),
            Err(fs::TryLockError::Error(e)) => Err(io(&path)(e)),
        }
    }
}

/// Holds a destination's uploader lock.
#[derive(Debug)]
pub struct UploaderLock {
    _file: File,
    destination: String,
}

impl UploaderLock {
    /// The destination it locks.
    pub fn destination(&self) -> &str {
        &self.destination
    }
}

/// Exponential backoff with a cap: `initial * 2^(attempts-1)`, at most `max`.
pub fn backoff(attempts: u32, initial: Duration, max: Duration) -> Duration {
    let factor = 1u32 << attempts.saturating_sub(1).min(16);
    (initial * factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::part10::{EXPLICIT_VR_LE, encode_part10, put_str};
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;

    fn object(uid: &str, pid: &str) -> Vec<u8> {
        let mut o = InMemDicomObject::new_empty();
        put_str(
            &mut o,
            tags::SOP_CLASS_UID,
            VR::UI,
            "1.2.840.10008.5.1.4.1.1.2",
        );
        put_str(&mut o, tags::SOP_INSTANCE_UID, VR::UI, uid);
        put_str(&mut o, tags::PATIENT_ID, VR::LO, pid);
        encode_part10(&o, EXPLICIT_VR_LE).unwrap()
    }

    #[test]
    fn enqueue_is_idempotent_and_refuses_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let a = object("1.2.3.1", "P");
        assert_eq!(
            ob.enqueue("pacs", &a).unwrap(),
            Enqueued::New("1.2.3.1".into())
        );
        assert_eq!(
            ob.enqueue("pacs", &a).unwrap(),
            Enqueued::Duplicate("1.2.3.1".into(), ItemState::Pending)
        );
        let e = ob.enqueue("pacs", &object("1.2.3.1", "Q")).unwrap_err();
        assert!(matches!(e, OutboxError::Conflict { .. }), "{e}");
        ob.enqueue("pacs", &object("1.2.3.2", "P")).unwrap();
        let recs = ob.records("pacs").unwrap();
        assert_eq!(
            recs.iter()
                .map(|r| r.sop_instance_uid.as_str())
                .collect::<Vec<_>>(),
            ["1.2.3.1", "1.2.3.2"]
        );
        assert_eq!(ob.read_object("pacs", "1.2.3.1").unwrap(), a);
        assert!(ob.enqueue("pacs", b"not dicom").is_err());
        assert!(matches!(
            ob.enqueue("../x", &a),
            Err(OutboxError::BadDestination(_))
        ));
    }

    #[test]
    fn a_crash_between_object_and_state_is_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let a = object("1.2.3.9", "P");
        // As if the process died after the object was written but before its state.
        let path = ob.object_path("pacs", "1.2.3.9").unwrap();
        write_durably(&path, &a).unwrap();
        // A temp file of a dead writer (pid far above pid_max) and one of a live writer (us).
        let dead = path.parent().unwrap().join(".tmp-4999999-1");
        let live = path
            .parent()
            .unwrap()
            .join(format!(".tmp-{}-77", std::process::id()));
        std::fs::write(&dead, b"half").unwrap();
        std::fs::write(&live, b"in flight").unwrap();
        let recs = ob.records("pacs").unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].state, ItemState::Pending);
        assert!(!dead.exists());
        assert!(live.exists());
        // A state torn by a crash (empty file) reads as pending, not as an error.
        let state = dir.path().join("pacs/state/1.2.3.9.json");
        std::fs::write(&state, b"").unwrap();
        let recs = ob.records("pacs").unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].state, ItemState::Pending);
        let st = ob.status().unwrap();
        assert_eq!(st[0].pending, 1);
    }

    #[test]
    fn prune_removes_only_old_sent_items() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        for uid in ["1.2.3.1", "1.2.3.2", "1.2.3.3"] {
            ob.enqueue("pacs", &object(uid, "P")).unwrap();
        }
        let mut recs = ob.records("pacs").unwrap();
        recs[0].state = ItemState::Sent;
        recs[0].sent_ms = Some(now_ms() - 10 * 86_400_000);
        recs[1].state = ItemState::Sent;
        recs[1].sent_ms = Some(now_ms());
        recs[2].state = ItemState::Failed;
        for r in &recs {
            ob.write_state("pacs", r).unwrap();
        }
        let day = Duration::from_secs(86_400);
        assert_eq!(ob.prune_sent("pacs", day).unwrap(), 1);
        let left: Vec<String> = ob
            .records("pacs")
            .unwrap()
            .into_iter()
            .map(|r| r.sop_instance_uid)
            .collect();
        assert_eq!(left, ["1.2.3.2", "1.2.3.3"]);
    }

    #[test]
    fn one_uploader_per_destination() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let guard = ob.lock("pacs").unwrap();
        assert!(matches!(ob.lock("pacs"), Err(OutboxError::Busy { .. })));
        drop(guard);
        ob.lock("pacs").unwrap();
    }

    #[test]
    fn backoff_doubles_to_a_cap() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(2));
        assert_eq!(backoff(1, i, m), i);
        assert_eq!(backoff(3, i, m), Duration::from_millis(400));
        assert_eq!(backoff(30, i, m), m);
    }
}
