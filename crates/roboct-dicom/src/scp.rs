//! A small DICOM SCP: the embedded PACS of `roboct demo` and the tests' receiving peer.
//!
//! [`Scp::bind`] listens on an address (port 0 picks a free one, [`Scp::local_addr`] says
//! which), accepts associations that call it by its AE title (others get an A-ASSOCIATE-RJ,
//! permanent, "called AE title not recognized"), one thread per association, any number at
//! once, and serves:
//!
//! | service | SOP classes | what it does |
//! | --- | --- | --- |
//! | Verification | C-ECHO | answers success |
//! | Storage | [`STORAGE_CLASSES`]: CT Image, Enhanced / Comprehensive / X-Ray Radiation Dose SR, Key Object Selection, Secondary Capture | writes `<dir>/<Study>/<Series>/<SOP Instance>.dcm` |
//! | MPPS | N-CREATE, N-SET | keeps the step in `<dir>/mpps/<SOP Instance>.dcm`, updated by N-SET |
//!
//! Transfer syntaxes: [`crate::part10::NATIVE_SYNTAXES`] (explicit and implicit VR little
//! endian, deflated explicit VR little endian), the caller's preference first.
//!
//! A stored file is the data set exactly as it arrived (no re-encoding) behind a file meta
//! group naming the SOP class and instance, the accepted transfer syntax, our implementation
//! UID and the calling AE as Source AE Title. It is written atomically and durably (temporary
//! name, fsync, rename, fsync of the folder: [`crate::outbox::write_durably`]), so a reader
//! never sees half a file. UIDs become path components only after [`is_valid_uid`] accepted
//! them (digits and dots, no empty component: no `..`, no `/`).
//!
//! Statuses (PS3.4 B.2.3, F.7.2; reason codes in the low byte where the standard leaves them
//! to the implementation, and a fixed Error Comment that never quotes the data):
//!
//! | status | when |
//! | --- | --- |
//! | 0x0000 | stored, also a second store of the same instance (the file is replaced; the event says `duplicate`); MPPS created or set |
//! | 0xA700 | the file cannot be written (disk full, a folder in the way): out of resources, so senders retry |
//! | 0xA900 | the data set's SOP Class UID differs from the command's |
//! | 0xC000 | the data set does not parse in the accepted transfer syntax, or is missing |
//! | 0xC001 | the data set lacks a valid SOP Instance, Study Instance or Series Instance UID |
//! | 0xC002 | the data set's SOP Instance UID differs from the command's |
//! | 0x0122 | a SOP class this SCP does not serve for that operation |
//! | 0x0111 | N-CREATE of an MPPS instance that exists |
//! | 0x0112 | N-SET of an MPPS instance that does not exist |
//! | 0x0117 | an MPPS SOP Instance UID that is not a UID |
//! | 0x0106 | N-CREATE with a status other than IN PROGRESS, N-SET to a status that does not exist |
//! | 0x0110 | N-SET of a step already COMPLETED or DISCONTINUED (Error ID 0xA710), or MPPS attributes that do not parse |
//! | 0x0213 | the MPPS file cannot be written |
//! | 0x0211 | any other DIMSE operation |
//!
//! What arrived is kept as a list of [`ScpEvent`]s ([`Scp::events`]): instances stored with
//! their paths, MPPS instances created and set with their status, requests refused and
//! associations rejected. Events hold UIDs, AE titles, paths and statuses, never patient data;
//! an event is recorded before its response is sent, so a sender that got its answer finds it.
//!
//! [`Scp::shutdown`] (also on drop) closes the listener, lets a message being handled finish,
//! aborts the open associations (A-ABORT) and joins every thread.
//!
//! This is not a production PACS: no query/retrieve, no storage commitment, no TLS, no
//! calling-AE access list, no limit on concurrent associations, everything in one folder.
//!
//! Tested against dcmtk `storescu`/`echoscu` and the crate's own uploader and MPPS SCU in
//! `tests/scp.rs`.
//!
//! ```no_run
//! use roboct_dicom::scp::{Scp, ScpEvent, ScpOptions};
//!
//! let mut pacs = Scp::bind("127.0.0.1:0", ScpOptions::new("DEMO-PACS", "out/pacs"))?;
//! let peer = pacs.peer(); // DEMO-PACS@127.0.0.1:<port>: give it to the uploader
//! // ... send ...
//! pacs.shutdown();
//! for event in pacs.events() {
//!     if let ScpEvent::Stored(s) = event {
//!         println!("{} -> {}", s.sop_instance_uid, s.path.display());
//!     }
//! }
//! # Ok::<(), roboct_dicom::scp::ScpError>(())
//! ```

use std::cell::Cell;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_ul::ServerAssociationOptions;
use dicom_ul::association::Association as _;
use dicom_ul::association::Error as UlError;
use dicom_ul::association::server::AccessControl;
use dicom_ul::pdu::{
    AssociationRJServiceUserReason, Pdu, PresentationContextResultReason, UserIdentity,
};

use crate::dimse::{
    C_CANCEL_RQ, C_ECHO_RQ, C_STORE_RQ, CommandSet, Incoming, Message, N_CREATE_RQ, N_SET_RQ,
    NO_DATASET, Peer, ReceiveError, Status, VERIFICATION, max_pdv_data, receive_message,
    send_message,
};
use crate::mpps::MPPS_SOP_CLASS;
use crate::part10::{
    EXPLICIT_VR_LE, NATIVE_SYNTAXES, decode_dataset, decode_part10, encode_part10, put_str, text,
    wrap_dataset,
};
use crate::uid::{UidGenerator, is_valid_uid};

/// Enhanced SR Storage.
pub const ENHANCED_SR: &str = "1.2.840.10008.5.1.4.1.1.88.22";
/// Secondary Capture Image Storage.
pub const SECONDARY_CAPTURE: &str = "1.2.840.10008.5.1.4.1.1.7";

/// The storage SOP classes the SCP accepts (C-STORE).
pub const STORAGE_CLASSES: [&str; 6] = [
    crate::ct::CT_IMAGE_STORAGE,
    ENHANCED_SR,
    crate::sr::COMPREHENSIVE_SR,
    crate::sr::XRAY_RADIATION_DOSE_SR,
    crate::sr::KEY_OBJECT_SELECTION,
    SECONDARY_CAPTURE,
];

/// How long [`Scp::shutdown`] lets associations finish the message they are handling before
/// it closes their sockets.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How often the listener looks for a shutdown while no one connects.
const ACCEPT_POLL: Duration = Duration::from_millis(10);

/// How the SCP is set up.
#[derive(Clone, Debug)]
pub struct ScpOptions {
    ae_title: String,
    storage_dir: PathBuf,
    timeout: Duration,
    max_pdu_length: u32,
}

impl ScpOptions {
    /// An SCP called `ae_title` that stores under `storage_dir` (created if missing).
    /// Defaults: a peer may stay silent 60 s (while associating, between messages or within
    /// one) before its association is aborted; PDUs up to 1 MiB.
    pub fn new(ae_title: impl Into<String>, storage_dir: impl Into<PathBuf>) -> Self {
        Self {
            ae_title: ae_title.into(),
            storage_dir: storage_dir.into(),
            timeout: Duration::from_secs(60),
            max_pdu_length: 1 << 20,
        }
    }

    /// Sets how long a peer may stay silent before its association is aborted.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The SCP could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScpError {
    /// The AE title is not one DICOM allows (PS3.5 §6.2, VR AE).
    #[error(
        "AE title `{ae_title}` is invalid: {why} (1 to 16 characters of printable ASCII, not only spaces, no backslash)"
    )]
    AeTitle {
        /// The title given.
        ae_title: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The storage folder cannot be created.
    #[error("cannot create the storage folder {}: {source}", path.display())]
    StorageDir {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address as given or resolved.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The listener thread cannot be started.
    #[error("cannot start the listener thread: {0}")]
    Thread(std::io::Error),
}

/// An instance stored by C-STORE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredInstance {
    /// Who sent it.
    pub calling_ae_title: String,
    /// SOP Class UID.
    pub sop_class_uid: String,
    /// SOP Instance UID.
    pub sop_instance_uid: String,
    /// Study Instance UID (the first folder level).
    pub study_instance_uid: String,
    /// Series Instance UID (the second folder level).
    pub series_instance_uid: String,
    /// The transfer syntax it arrived and was written in.
    pub transfer_syntax_uid: String,
    /// The Part 10 file.
    pub path: PathBuf,
    /// An instance with this UID had been stored before; the file now holds the latest copy.
    pub duplicate: bool,
}

/// Which MPPS operation an [`MppsUpdate`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MppsOperation {
    /// N-CREATE: the step started.
    Created,
    /// N-SET: the step was updated (usually ended).
    Set,
}

/// An MPPS instance created or updated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MppsUpdate {
    /// N-CREATE or N-SET.
    pub operation: MppsOperation,
    /// Who sent it.
    pub calling_ae_title: String,
    /// The MPPS SOP Instance UID.
    pub sop_instance_uid: String,
    /// Performed Procedure Step Status (0040,0252) after the operation: `IN PROGRESS`,
    /// `COMPLETED` or `DISCONTINUED`.
    pub status: String,
    /// The file holding the instance's current attributes.
    pub path: PathBuf,
}

/// Something that reached the SCP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScpEvent {
    /// An instance was stored.
    Stored(StoredInstance),
    /// An MPPS instance was created or set.
    Mpps(MppsUpdate),
    /// A request was answered with a failure status.
    Refused {
        /// Who sent it.
        calling_ae_title: String,
        /// The DIMSE operation (`C-STORE`, `N-SET`...).
        operation: &'static str,
        /// The SOP Instance UID the request named, when it was a valid UID.
        sop_instance_uid: Option<String>,
        /// The status answered.
        status: Status,
    },
    /// An association request was rejected (A-ASSOCIATE-RJ).
    AssociationRejected {
        /// The caller's AE title.
        calling_ae_title: String,
        /// The AE title it called, which is not ours.
        called_ae_title: String,
    },
}

/// A running SCP. Stops (closes the listener, aborts open associations, joins its threads)
/// on [`Scp::shutdown`] or when dropped.
pub struct Scp {
    addr: SocketAddr,
    shared: Arc<Shared>,
    listener: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Scp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scp")
            .field("ae_title", &self.shared.ae_title)
            .field("addr", &self.addr)
            .field("storage_dir", &self.shared.dir)
            .finish()
    }
}

/// What the listener and the association threads share.
struct Shared {
    ae_title: String,
    dir: PathBuf,
    timeout: Duration,
    max_pdu_length: u32,
    stop: AtomicBool,
    events: Mutex<Vec<ScpEvent>>,
    conns: Mutex<Connections>,
    /// Signalled whenever an association thread ends.
    conn_ended: Condvar,
    /// Serialises MPPS read-modify-write.
    mpps: Mutex<()>,
}

/// The open connections (a clone of each socket, to close it on shutdown) and the threads.
#[derive(Default)]
struct Connections {
    next_id: u64,
    open: HashMap<u64, TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

/// A poisoned lock only means another thread panicked while holding it; the data (a list of
/// events, sockets) is still usable, and the SCP must still shut down.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn check_ae_title(ae: &str) -> Result<(), ScpError> {
    let bad = |why| {
        Err(ScpError::AeTitle {
            ae_title: ae.to_string(),
            why,
        })
    };
    if ae.trim().is_empty() {
        return bad("empty");
    }
    if ae.len() > 16 {
        return bad("longer than 16 characters");
    }
    if ae.bytes().any(|b| !(0x20..0x7F).contains(&b) || b == b'\\') {
        return bad("a character outside printable ASCII, or a backslash");
    }
    Ok(())
}

impl Scp {
    /// Listens on `addr` (e.g. `127.0.0.1:0` for a free port on loopback) and starts serving.
    pub fn bind(addr: impl ToSocketAddrs, options: ScpOptions) -> Result<Self, ScpError> {
        check_ae_title(&options.ae_title)?;
        std::fs::create_dir_all(&options.storage_dir).map_err(|source| ScpError::StorageDir {
            path: options.storage_dir.clone(),
            source,
        })?;
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|source| ScpError::Bind {
                addr: "the address given".into(),
                source,
            })?
            .collect();
        let shown = || {
            addrs
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let bind_err = |source| ScpError::Bind {
            addr: shown(),
            source,
        };
        let listener = TcpListener::bind(&addrs[..]).map_err(bind_err)?;
        let local = listener.local_addr().map_err(bind_err)?;
        // Non-blocking, polled: the listener thread sees a shutdown within ACCEPT_POLL without
        // needing a connection to wake it.
        listener.set_nonblocking(true).map_err(bind_err)?;
        let shared = Arc::new(Shared {
            ae_title: options.ae_title.trim().to_string(),
            dir: options.storage_dir,
            timeout: options.timeout,
            max_pdu_length: options.max_pdu_length,
            stop: AtomicBool::new(false),
            events: Mutex::new(Vec::new()),
            conns: Mutex::new(Connections::default()),
            conn_ended: Condvar::new(),
            mpps: Mutex::new(()),
        });
        let for_thread = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name(format!("scp-listen-{}", local.port()))
            .spawn(move || accept_loop(&for_thread, listener))
            .map_err(ScpError::Thread)?;
        tracing::info!(ae_title = %shared.ae_title, addr = %local, "DICOM SCP listening");
        Ok(Self {
            addr: local,
            shared,
            listener: Some(handle),
        })
    }

    /// The address it listens on (with the port chosen when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its AE title.
    pub fn ae_title(&self) -> &str {
        &self.shared.ae_title
    }

    /// The folder it stores into.
    pub fn storage_dir(&self) -> &Path {
        &self.shared.dir
    }

    /// How a sender on this machine reaches it: its AE title, the address it listens on
    /// (loopback when it listens on all interfaces) and its port.
    pub fn peer(&self) -> Peer {
        let ip = self.addr.ip();
        let host = if ip.is_unspecified() {
            if ip.is_ipv4() { "127.0.0.1" } else { "::1" }.to_string()
        } else {
            ip.to_string()
        };
        Peer {
            ae_title: self.shared.ae_title.clone(),
            host,
            port: self.addr.port(),
        }
    }

    /// Everything that reached it so far, in order of arrival.
    pub fn events(&self) -> Vec<ScpEvent> {
        lock(&self.shared.events).clone()
    }

    /// Stops: closes the listener, lets messages being handled finish (up to 2 s), aborts
    /// the associations still open and joins every thread. Calling it again does nothing;
    /// [`Scp::events`] still answers afterwards.
    pub fn shutdown(&mut self) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        // The listener thread checks the flag every ACCEPT_POLL; once joined, no new
        // association thread can start.
        let _ = listener.join();
        let mut conns = lock(&self.shared.conns);
        // Wake every thread blocked reading: it sees the end of the stream, answers nothing
        // more and aborts. A thread storing a message finishes it first.
        for s in conns.open.values() {
            let _ = s.shutdown(Shutdown::Read);
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while !conns.open.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            conns = self
                .shared
                .conn_ended
                .wait_timeout(conns, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        // Still open after the grace: a peer stuck not reading our response. Close outright.
        for s in conns.open.values() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(&mut conns.threads);
        drop(conns);
        for t in threads {
            let _ = t.join();
        }
        tracing::info!(ae_title = %self.shared.ae_title, "DICOM SCP stopped");
    }
}

impl Drop for Scp {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    while !shared.stop.load(Ordering::SeqCst) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
            Err(e) => {
                // Out of file descriptors and the like: wait and try again.
                tracing::warn!("SCP cannot accept a connection: {e}");
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
        };
        // Accepted sockets must block: the association threads use read/write timeouts.
        let Ok(clone) = stream
            .set_nonblocking(false)
            .and_then(|_| stream.try_clone())
        else {
            continue;
        };
        let mut conns = lock(&shared.conns);
        conns.threads.retain(|t| !t.is_finished());
        let id = conns.next_id;
        conns.next_id += 1;
        conns.open.insert(id, clone);
        let for_thread = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name(format!("scp-assoc-{id}"))
            .spawn(move || {
                let _done = ConnectionDone {
                    shared: &for_thread,
                    id,
                };
                serve(&for_thread, stream);
            });
        match spawned {
            Ok(t) => conns.threads.push(t),
            Err(e) => {
                conns.open.remove(&id);
                tracing::warn!("SCP cannot start an association thread: {e}");
            }
        }
    }
}

/// Unregisters a connection when its thread ends, panic or not.
struct ConnectionDone<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for ConnectionDone<'_> {
    fn drop(&mut self) {
        lock(&self.shared.conns).open.remove(&self.id);
        self.shared.conn_ended.notify_all();
    }
}

/// dicom-ul's called-AE-title check, recording a rejection before the A-ASSOCIATE-RJ goes
/// out (so a caller that got it finds the event).
struct CalledAeTitle<'a> {
    shared: &'a Shared,
    rejected: &'a Cell<bool>,
}

impl AccessControl for CalledAeTitle<'_> {
    fn check_access(
        &self,
        this_ae_title: &str,
        calling_ae_title: &str,
        called_ae_title: &str,
        _user_identity: Option<&UserIdentity>,
    ) -> Result<(), AssociationRJServiceUserReason> {
        if called_ae_title.trim() == this_ae_title {
            Ok(())
        } else {
            tracing::info!(
                calling_ae_title,
                called_ae_title,
                "SCP rejects an association: called AE title is not ours"
            );
            self.shared.record(ScpEvent::AssociationRejected {
                calling_ae_title: calling_ae_title.to_string(),
                called_ae_title: called_ae_title.to_string(),
            });
            self.rejected.set(true);
            Err(AssociationRJServiceUserReason::CalledAETitleNotRecognized)
        }
    }
}

/// An accepted presentation context.
struct Context {
    abstract_syntax: String,
    transfer_syntax: String,
}

/// One association, from the A-ASSOCIATE-RQ to its release or abort.
fn serve(shared: &Shared, stream: TcpStream) {
    let rejected = Cell::new(false);
    let mut options = ServerAssociationOptions::new()
        .ae_access_control(CalledAeTitle {
            shared,
            rejected: &rejected,
        })
        .ae_title(shared.ae_title.as_str())
        .max_pdu_length(shared.max_pdu_length)
        .read_timeout(shared.timeout)
        .write_timeout(shared.timeout);
    for class in [VERIFICATION, MPPS_SOP_CLASS]
        .iter()
        .chain(&STORAGE_CLASSES)
    {
        options = options.with_abstract_syntax(*class);
    }
    for ts in NATIVE_SYNTAXES {
        options = options.with_transfer_syntax(ts);
    }
    let mut ul = match options.establish(stream) {
        Ok(ul) => ul,
        Err(e) => {
            if !rejected.get() && !shared.stop.load(Ordering::SeqCst) {
                tracing::debug!("SCP: association not established: {e}");
            }
            return;
        }
    };
    // Nagle + delayed ACK would stall every response by 40-90 ms (see `dimse`).
    let _ = ul.inner_stream().set_nodelay(true);
    let calling = ul.peer_ae_title().trim().to_string();
    let contexts: HashMap<u8, Context> = ul
        .presentation_contexts()
        .iter()
        .filter(|pc| pc.reason == PresentationContextResultReason::Acceptance)
        .map(|pc| {
            let trim = |s: &str| s.trim_end_matches(['\0', ' ']).to_string();
            (
                pc.id,
                Context {
                    abstract_syntax: trim(&pc.abstract_syntax),
                    transfer_syntax: trim(&pc.transfer_syntax),
                },
            )
        })
        .collect();
    let max_pdv = max_pdv_data(ul.requestor_max_pdu_length());
    tracing::debug!(calling_ae_title = %calling, contexts = contexts.len(), "SCP association");
    loop {
        let message = match receive_message(&mut ul) {
            Ok(Incoming::Message(m)) => m,
            Ok(Incoming::Other {
                pdu: Pdu::ReleaseRQ,
                mid_message: false,
            }) => {
                let _ = ul.send(&Pdu::ReleaseRP);
                return;
            }
            Ok(Incoming::Other {
                pdu: Pdu::AbortRQ { .. },
                ..
            }) => return,
            Ok(Incoming::Other { pdu, .. }) => {
                tracing::debug!(
                    calling_ae_title = %calling,
                    "SCP aborts: unexpected PDU {}",
                    pdu.short_description()
                );
                let _ = ul.abort();
                return;
            }
            Err(e) => {
                if !shared.stop.load(Ordering::SeqCst) {
                    match &e {
                        ReceiveError::Ul(UlError::ConnectionClosed { .. }) => {}
                        ReceiveError::Ul(e) => {
                            tracing::debug!(calling_ae_title = %calling, "SCP aborts: {e}");
                        }
                        ReceiveError::Protocol(what) => {
                            tracing::debug!(calling_ae_title = %calling, "SCP aborts: {what}");
                        }
                    }
                }
                let _ = ul.abort();
                return;
            }
        };
        let Some(context) = contexts.get(&message.pc_id) else {
            tracing::debug!(calling_ae_title = %calling, "SCP aborts: message on a context not accepted");
            let _ = ul.abort();
            return;
        };
        let field = message.command.us(0x0100).unwrap_or(0);
        if field == C_CANCEL_RQ {
            continue;
        }
        let response = shared.handle(&calling, context, &message);
        if send_message(&mut ul, max_pdv, message.pc_id, &response, None).is_err() {
            let _ = ul.abort();
            return;
        }
        if shared.stop.load(Ordering::SeqCst) {
            let _ = ul.abort();
            return;
        }
    }
}

/// A response's status, with an Error Comment and Error ID when it is a failure.
struct Outcome {
    status: Status,
    comment: Option<&'static str>,
    error_id: Option<u16>,
    /// The instance the response names when the request did not (N-CREATE without a UID).
    instance: Option<String>,
}

impl Outcome {
    fn ok() -> Self {
        Self {
            status: Status(0),
            comment: None,
            error_id: None,
            instance: None,
        }
    }
    fn fail(status: u16, comment: &'static str) -> Self {
        Self {
            status: Status(status),
            comment: Some(comment),
            error_id: None,
            instance: None,
        }
    }
}

impl Shared {
    fn record(&self, event: ScpEvent) {
        lock(&self.events).push(event);
    }

    /// Handles one request and builds its response command set.
    fn handle(&self, calling: &str, context: &Context, m: &Message) -> CommandSet {
        let field = m.command.us(0x0100).unwrap_or(0);
        let (operation, outcome) = match field {
            C_ECHO_RQ if context.abstract_syntax == VERIFICATION => ("C-ECHO", Outcome::ok()),
            C_STORE_RQ => ("C-STORE", self.store(calling, context, m)),
            N_CREATE_RQ => ("N-CREATE", self.mpps_create(calling, context, m)),
            N_SET_RQ => ("N-SET", self.mpps_set(calling, context, m)),
            C_ECHO_RQ => (
                "C-ECHO",
                Outcome::fail(0x0122, "C-ECHO on a context other than Verification"),
            ),
            _ => ("DIMSE", Outcome::fail(0x0211, "operation not supported")),
        };
        // Affected SOP Class / Instance UID of the response: the request's affected or
        // requested ones (N-SET names them as requested).
        let class = m
            .command
            .text(0x0002)
            .or_else(|| m.command.text(0x0003))
            .unwrap_or_default();
        let instance = outcome
            .instance
            .clone()
            .or_else(|| m.command.text(0x1000))
            .or_else(|| m.command.text(0x1001));
        if !outcome.status.is_ok() {
            tracing::debug!(calling_ae_title = %calling, "SCP answered {operation} with {}", outcome.status);
            self.record(ScpEvent::Refused {
                calling_ae_title: calling.to_string(),
                operation,
                sop_instance_uid: instance.clone().filter(|u| is_valid_uid(u)),
                status: outcome.status,
            });
        }
        let mut r = CommandSet::default();
        if !class.is_empty() {
            r.put_uid(0x0002, &class);
        }
        r.put_us(0x0100, field | 0x8000)
            .put_us(0x0120, m.command.us(0x0110).unwrap_or(0))
            .put_us(0x0800, NO_DATASET)
            .put_us(0x0900, outcome.status.0);
        if let Some(uid) = instance.filter(|u| !u.is_empty()) {
            r.put_uid(0x1000, &uid);
        }
        if let Some(comment) = outcome.comment {
            r.put_text(0x0902, comment);
        }
        if let Some(id) = outcome.error_id {
            r.put_us(0x0903, id);
        }
        r
    }

    /// C-STORE: check, file, answer.
    fn store(&self, calling: &str, context: &Context, m: &Message) -> Outcome {
        let class = m.command.text(0x0002).unwrap_or_default();
        if class != context.abstract_syntax || !STORAGE_CLASSES.contains(&class.as_str()) {
            return Outcome::fail(0x0122, "SOP class not served by this SCP");
        }
        let command_instance = m.command.text(0x1000).unwrap_or_default();
        let Some(data) = &m.dataset else {
            return Outcome::fail(0xC000, "no data set");
        };
        let Ok(obj) = decode_dataset(data, &context.transfer_syntax) else {
            return Outcome::fail(0xC000, "data set does not parse");
        };
        let uid = |tag| text(&obj, tag).filter(|u| is_valid_uid(u));
        let (Some(instance), Some(study), Some(series)) = (
            uid(tags::SOP_INSTANCE_UID),
            uid(tags::STUDY_INSTANCE_UID),
            uid(tags::SERIES_INSTANCE_UID),
        ) else {
            return Outcome::fail(0xC001, "missing or invalid SOP/study/series UID");
        };
        if text(&obj, tags::SOP_CLASS_UID).as_deref() != Some(class.as_str()) {
            return Outcome::fail(0xA900, "data set SOP class differs from the command");
        }
        if instance != command_instance {
            return Outcome::fail(0xC002, "data set SOP instance differs from the command");
        }
        // All three passed `is_valid_uid`: digits and dots only, so each is one safe path
        // component.
        let folder = self.dir.join(&study).join(&series);
        let path = folder.join(format!("{instance}.dcm"));
        let Ok(file) = wrap_dataset(
            &class,
            &instance,
            &context.transfer_syntax,
            Some(calling).filter(|c| check_ae_title(c).is_ok()),
            data,
        ) else {
            return Outcome::fail(0xC000, "cannot build a file meta group");
        };
        let duplicate = path.exists();
        let written = crate::outbox::create_dir_durably(&folder)
            .map_err(|e| e.to_string())
            .and_then(|_| crate::outbox::write_durably(&path, &file).map_err(|e| e.to_string()));
        if let Err(e) = written {
            tracing::warn!("SCP cannot store an instance: {e}");
            return Outcome::fail(0xA700, "cannot write the file");
        }
        self.record(ScpEvent::Stored(StoredInstance {
            calling_ae_title: calling.to_string(),
            sop_class_uid: class,
            sop_instance_uid: instance,
            study_instance_uid: study,
            series_instance_uid: series,
            transfer_syntax_uid: context.transfer_syntax.clone(),
            path,
            duplicate,
        }));
        Outcome::ok()
    }

    fn mpps_path(&self, uid: &str) -> PathBuf {
        self.dir.join("mpps").join(format!("{uid}.dcm"))
    }

    /// Writes the MPPS instance `obj` (with its SOP class and instance put in) and records it.
    fn mpps_write(
        &self,
        calling: &str,
        operation: MppsOperation,
        uid: &str,
        mut obj: InMemDicomObject,
    ) -> Outcome {
        put_str(
            &mut obj,
            tags::SOP_CLASS_UID,
            dicom_core::VR::UI,
            MPPS_SOP_CLASS,
        );
        put_str(&mut obj, tags::SOP_INSTANCE_UID, dicom_core::VR::UI, uid);
        let path = self.mpps_path(uid);
        let written = encode_part10(&obj, EXPLICIT_VR_LE)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                crate::outbox::create_dir_durably(&self.dir.join("mpps"))
                    .map_err(|e| e.to_string())
                    .and_then(|_| {
                        crate::outbox::write_durably(&path, &bytes).map_err(|e| e.to_string())
                    })
            });
        if let Err(e) = written {
            tracing::warn!("SCP cannot store an MPPS instance: {e}");
            return Outcome::fail(0x0213, "cannot write the MPPS instance");
        }
        self.record(ScpEvent::Mpps(MppsUpdate {
            operation,
            calling_ae_title: calling.to_string(),
            sop_instance_uid: uid.to_string(),
            status: text(&obj, tags::PERFORMED_PROCEDURE_STEP_STATUS).unwrap_or_default(),
            path,
        }));
        Outcome::ok()
    }

    /// N-CREATE of an MPPS (PS3.4 F.7.2.1): a new step, IN PROGRESS.
    fn mpps_create(&self, calling: &str, context: &Context, m: &Message) -> Outcome {
        if context.abstract_syntax != MPPS_SOP_CLASS
            || m.command.text(0x0002).as_deref() != Some(MPPS_SOP_CLASS)
        {
            return Outcome::fail(0x0122, "N-CREATE is served for MPPS only");
        }
        // The SCU should name the instance; when it does not, the SCP makes the UID and
        // returns it in the response (PS3.7 10.1.5.1.3).
        let (uid, generated) = match m.command.text(0x1000) {
            Some(u) if !u.is_empty() => (u, false),
            _ => (UidGenerator::default().generate(), true),
        };
        if !is_valid_uid(&uid) {
            return Outcome::fail(0x0117, "SOP instance UID is not a UID");
        }
        let obj = match &m.dataset {
            Some(d) => match decode_dataset(d, &context.transfer_syntax) {
                Ok(o) => o,
                Err(_) => return Outcome::fail(0x0110, "attribute list does not parse"),
            },
            None => InMemDicomObject::new_empty(),
        };
        if text(&obj, tags::PERFORMED_PROCEDURE_STEP_STATUS).as_deref() != Some("IN PROGRESS") {
            return Outcome::fail(0x0106, "a new step must be IN PROGRESS");
        }
        let _serial = lock(&self.mpps);
        if self.mpps_path(&uid).exists() {
            return Outcome::fail(0x0111, "MPPS instance exists");
        }
        let mut outcome = self.mpps_write(calling, MppsOperation::Created, &uid, obj);
        if generated {
            outcome.instance = Some(uid);
        }
        outcome
    }

    /// N-SET of an MPPS (PS3.4 F.7.2.2): replaces the attributes given, until the step is
    /// final.
    fn mpps_set(&self, calling: &str, context: &Context, m: &Message) -> Outcome {
        if context.abstract_syntax != MPPS_SOP_CLASS
            || m.command.text(0x0003).as_deref() != Some(MPPS_SOP_CLASS)
        {
            return Outcome::fail(0x0122, "N-SET is served for MPPS only");
        }
        let uid = m.command.text(0x1001).unwrap_or_default();
        if !is_valid_uid(&uid) {
            return Outcome::fail(0x0117, "SOP instance UID is not a UID");
        }
        let modifications = match &m.dataset {
            Some(d) => match decode_dataset(d, &context.transfer_syntax) {
                Ok(o) => o,
                Err(_) => return Outcome::fail(0x0110, "modification list does not parse"),
            },
            None => InMemDicomObject::new_empty(),
        };
        let _serial = lock(&self.mpps);
        let bytes = match std::fs::read(self.mpps_path(&uid)) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Outcome::fail(0x0112, "no such MPPS instance");
            }
            Err(_) => return Outcome::fail(0x0213, "cannot read the MPPS instance"),
        };
        let Ok((_, mut obj)) = decode_part10(&bytes) else {
            return Outcome::fail(0x0110, "stored MPPS instance does not parse");
        };
        if matches!(
            text(&obj, tags::PERFORMED_PROCEDURE_STEP_STATUS).as_deref(),
            Some("COMPLETED" | "DISCONTINUED")
        ) {
            // PS3.4 F.7.2.2.2: a final step may no longer be updated (Error ID A710).
            let mut o = Outcome::fail(0x0110, "the step is final and may not be updated");
            o.error_id = Some(0xA710);
            return o;
        }
        for element in modifications {
            obj.put(element);
        }
        if !matches!(
            text(&obj, tags::PERFORMED_PROCEDURE_STEP_STATUS).as_deref(),
            Some("IN PROGRESS" | "COMPLETED" | "DISCONTINUED")
        ) {
            return Outcome::fail(0x0106, "no such step status");
        }
        self.mpps_write(calling, MppsOperation::Set, &uid, obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ae_titles_are_checked() {
        assert!(check_ae_title("DEMO-PACS").is_ok());
        assert!(check_ae_title("A").is_ok());
        for bad in ["", "   ", "SEVENTEEN-LETTERS", "A\\B", "TAB\tX", "É"] {
            let e = check_ae_title(bad).unwrap_err();
            assert!(e.to_string().contains("AE title"), "{bad:?}: {e}");
        }
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            Scp::bind("127.0.0.1:0", ScpOptions::new("", tmp.path())),
            Err(ScpError::AeTitle { .. })
        ));
    }

    #[test]
    fn binds_a_free_port_and_stops_twice() {
        let tmp = tempfile::tempdir().unwrap();
        let mut scp = Scp::bind("127.0.0.1:0", ScpOptions::new("UNIT", tmp.path())).unwrap();
        let port = scp.local_addr().port();
        assert_ne!(port, 0);
        assert_eq!(scp.peer().to_string(), format!("UNIT@127.0.0.1:{port}"));
        // A second SCP on the same port cannot listen.
        let e = Scp::bind(("127.0.0.1", port), ScpOptions::new("UNIT", tmp.path())).unwrap_err();
        assert!(matches!(e, ScpError::Bind { .. }), "{e}");
        scp.shutdown();
        scp.shutdown();
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
        assert!(scp.events().is_empty());
    }
}
