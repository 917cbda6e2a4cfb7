//! The uploader: drains a destination's outbox queue in order, retrying with backoff, and the
//! real-time pipeline that turns reconstruction slabs into stored instances as they arrive.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError, channel};
use std::time::{Duration, Instant};

use roboct_geometry::VolumeSlab;

use crate::ct::{CtError, CtSeriesWriter, Instance, VoxelUnits};
use crate::outbox::{ItemRecord, ItemState, Outbox, OutboxError, UploaderLock, backoff, now_ms};
use crate::send::{Failure, Outgoing, Sender};

/// How hard to try.
#[derive(Clone, Debug, PartialEq)]
pub struct UploadPolicy {
    /// Wait after the first transient failure.
    pub initial_backoff: Duration,
    /// Longest wait between retries.
    pub max_backoff: Duration,
    /// Optional cap on instances per second (to spare a busy hospital network).
    pub max_instances_per_s: Option<f64>,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            max_instances_per_s: None,
        }
    }
}

/// What an upload run achieved.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UploadReport {
    /// Instances confirmed in this run.
    pub sent: usize,
    /// Instances refused for good in this run (kept in the outbox as failed).
    pub failed: Vec<(String, String)>,
    /// Instances still pending at the end (to be sent by a later run).
    pub pending: usize,
    /// The last transient error seen, if any.
    pub last_transient_error: Option<String>,
    /// The run stopped early on a configuration error (a credential missing or refused, an
    /// AE title rejected): what to fix. Everything unsent is still queued.
    pub configuration_error: Option<String>,
    /// Bytes confirmed.
    pub bytes_sent: u64,
}

/// Drains one destination's queue. Holds the destination's lock while alive.
pub struct Uploader {
    outbox: Outbox,
    destination: String,
    sender: Box<dyn Sender>,
    policy: UploadPolicy,
    queue: VecDeque<ItemRecord>,
    consecutive_failures: u32,
    blocked_until: Option<Instant>,
    last_send: Option<Instant>,
    report: UploadReport,
    sent_at: HashMap<String, Instant>,
    _lock: UploaderLock,
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader")
            .field("destination", &self.destination)
            .field("queued", &self.queue.len())
            .finish()
    }
}

impl Uploader {
    /// Takes the destination's lock and loads its pending items (resuming after a crash).
    /// Fails with [`OutboxError::Busy`] while another uploader holds the destination.
    pub fn new(
        outbox: Outbox,
        destination: &str,
        sender: Box<dyn Sender>,
        policy: UploadPolicy,
    ) -> Result<Self, OutboxError> {
        let lock = outbox.lock(destination)?;
        Self::with_lock(outbox, lock, sender, policy)
    }

    /// An uploader for the destination that `lock` (from [`Outbox::lock`]) holds, with its
    /// pending items loaded.
    pub fn with_lock(
        outbox: Outbox,
        lock: UploaderLock,
        sender: Box<dyn Sender>,
        policy: UploadPolicy,
    ) -> Result<Self, OutboxError> {
        let destination = lock.destination().to_string();
        let mut up = Self {
            outbox,
            destination,
            sender,
            policy,
            queue: VecDeque::new(),
            consecutive_failures: 0,
            blocked_until: None,
            last_send: None,
            report: UploadReport::default(),
            sent_at: HashMap::new(),
            _lock: lock,
        };
        up.refresh()?;
        Ok(up)
    }

    /// Re-reads the destination's records and queues the pending ones not queued yet:
    /// instances that other processes (a stream that found this uploader holding the lock,
    /// `roboct upload`) or an operator (`roboct outbox retry`) queued since. Returns how many
    /// were added.
    pub fn refresh(&mut self) -> Result<usize, OutboxError> {
        let queued: HashSet<String> = self
            .queue
            .iter()
            .map(|r| r.sop_instance_uid.clone())
            .collect();
        let mut added = 0;
        for rec in self.outbox.records(&self.destination)? {
            if rec.state == ItemState::Pending && !queued.contains(&rec.sop_instance_uid) {
                self.queue.push_back(rec);
                added += 1;
            }
        }
        Ok(added)
    }

    /// Adds a newly enqueued instance to the in-memory queue.
    pub fn add(&mut self, uid: &str) -> Result<(), OutboxError> {
        if self.queue.iter().any(|r| r.sop_instance_uid == uid) {
            return Ok(());
        }
        if let Some(rec) = self.outbox.record(&self.destination, uid)?
            && rec.state == ItemState::Pending
        {
            self.queue.push_back(rec);
        }
        Ok(())
    }

    /// Items still queued.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// The configuration error that stopped this uploader, if one did.
    pub fn stopped_by(&self) -> Option<&str> {
        self.report.configuration_error.as_deref()
    }

    /// When each instance of this run was confirmed.
    pub fn sent_at(&self) -> &HashMap<String, Instant> {
        &self.sent_at
    }

    /// How long until the next attempt is allowed (zero when it is now).
    pub fn wait_time(&self) -> Duration {
        let mut wait = Duration::ZERO;
        if let Some(t) = self.blocked_until {
            wait = t.saturating_duration_since(Instant::now());
        }
        if let (Some(rate), Some(last)) = (self.policy.max_instances_per_s, self.last_send) {
            let gap = Duration::from_secs_f64(1.0 / rate.max(1e-3));
            wait = wait.max((last + gap).saturating_duration_since(Instant::now()));
        }
        wait
    }

    /// One attempt on the head of the queue (a batch). Returns how many were confirmed.
    ///
    /// A transient failure blocks the whole queue for the backoff time (the destination is
    /// down or busy: trying the next instance now would fail the same way); a refusal marks
    /// that instance failed and moves on; a configuration error stops the uploader (see
    /// [`Uploader::stopped_by`]) with every instance still queued.
    pub fn step(&mut self) -> Result<usize, OutboxError> {
        if self.queue.is_empty() || self.stopped_by().is_some() || !self.wait_time().is_zero() {
            return Ok(0);
        }
        let n = if self.policy.max_instances_per_s.is_some() {
            1
        } else {
            self.sender.batch_size().min(self.queue.len())
        };
        let mut objects = Vec::with_capacity(n);
        for rec in self.queue.iter().take(n) {
            objects.push(
                self.outbox
                    .read_object(&self.destination, &rec.sop_instance_uid)?,
            );
        }
        let outgoing: Vec<Outgoing<'_>> = self
            .queue
            .iter()
            .take(n)
            .zip(&objects)
            .map(|(r, b)| Outgoing {
                sop_instance_uid: &r.sop_instance_uid,
                bytes: b,
            })
            .collect();
        self.last_send = Some(Instant::now());
        let results = self.sender.send_batch(&outgoing);
        let mut confirmed = 0;
        let mut keep = VecDeque::new();
        let mut transient = false;
        for (mut rec, result) in self.queue.drain(..n).zip(results) {
            rec.attempts += 1;
            // Whatever a sender says goes to disk and screens without URL credentials, even
            // from a sender that forgot to mask them.
            let result = result.map_err(|mut e| {
                e.message = crate::config::redact_url_credentials(&e.message);
                e
            });
            match result {
                Ok(()) => {
                    rec.state = ItemState::Sent;
                    rec.sent_ms = Some(now_ms());
                    rec.last_error = None;
                    self.outbox.write_state(&self.destination, &rec)?;
                    self.sent_at
                        .insert(rec.sop_instance_uid.clone(), Instant::now());
                    self.report.sent += 1;
                    self.report.bytes_sent += rec.size_bytes;
                    confirmed += 1;
                }
                Err(e) => match e.kind {
                    Failure::Transient => {
                        transient = true;
                        rec.last_error = Some(e.message.clone());
                        self.report.last_transient_error = Some(e.message);
                        keep.push_back(rec);
                    }
                    Failure::Configuration => {
                        rec.last_error = Some(e.message.clone());
                        self.outbox.write_state(&self.destination, &rec)?;
                        if self.report.configuration_error.is_none() {
                            // Messages carry statuses and codes only (see `SendError`).
                            tracing::error!(destination = %self.destination, error = %e.message, "upload stopped: configuration error");
                            self.report.configuration_error = Some(e.message);
                        }
                        keep.push_back(rec);
                    }
                    Failure::Refused => {
                        tracing::warn!(uid = %rec.sop_instance_uid, error = %e.message, "instance refused");
                        rec.state = ItemState::Failed;
                        rec.last_error = Some(e.message.clone());
                        self.outbox.write_state(&self.destination, &rec)?;
                        self.report
                            .failed
                            .push((rec.sop_instance_uid.clone(), e.message));
                    }
                },
            }
        }
        if transient {
            self.consecutive_failures += 1;
            let wait = backoff(
                self.consecutive_failures,
                self.policy.initial_backoff,
                self.policy.max_backoff,
            );
            self.blocked_until = Some(Instant::now() + wait);
            let next = now_ms() + wait.as_millis() as u64;
            for rec in keep.iter_mut() {
                rec.next_attempt_ms = next;
                self.outbox.write_state(&self.destination, rec)?;
            }
        } else {
            self.consecutive_failures = 0;
            self.blocked_until = None;
        }
        while let Some(rec) = keep.pop_back() {
            self.queue.push_front(rec);
        }
        Ok(confirmed)
    }

    /// Sends until the queue is empty or `deadline` passes; the rest stays pending. When the
    /// queue runs empty the outbox is read again, so what was queued meanwhile (by a stream
    /// that found this uploader holding the lock, or another `roboct upload`) goes out too.
    pub fn run(
        &mut self,
        deadline: Option<Instant>,
        progress: &dyn roboct_core::Progress,
    ) -> Result<UploadReport, OutboxError> {
        progress.start("uploading", self.queue.len() as u64);
        loop {
            if self.queue.is_empty() {
                let added = self.refresh()?;
                if added == 0 {
                    break;
                }
                progress.start("uploading (queued meanwhile)", added as u64);
            }
            if self.stopped_by().is_some() {
                break;
            }
            let wait = self.wait_time();
            if let Some(d) = deadline
                && Instant::now() + wait >= d
            {
                break;
            }
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            let before = self.report.sent + self.report.failed.len();
            self.step()?;
            progress.advance((self.report.sent + self.report.failed.len() - before) as u64);
        }
        progress.finish();
        Ok(self.finish())
    }

    /// Runs as the destination's uploader service while `keep_going()` is true: sends what
    /// is queued, retries after outages of any length with backoff, and reads the outbox
    /// again every `poll` while idle, so instances queued by other processes (streams that
    /// found the lock held, `roboct upload`) are sent. Stops early on a configuration error.
    pub fn serve(
        &mut self,
        keep_going: &dyn Fn() -> bool,
        poll: Duration,
    ) -> Result<UploadReport, OutboxError> {
        // Short naps, so that `keep_going` is checked often.
        let nap = poll.min(Duration::from_millis(100));
        let mut last_refresh = Instant::now();
        while keep_going() && self.stopped_by().is_none() {
            if self.queue.is_empty() {
                if last_refresh.elapsed() >= poll {
                    self.refresh()?;
                    last_refresh = Instant::now();
                } else {
                    std::thread::sleep(nap);
                }
                continue;
            }
            let wait = self.wait_time();
            if !wait.is_zero() {
                std::thread::sleep(wait.min(nap));
                continue;
            }
            self.step()?;
        }
        Ok(self.finish())
    }

    /// Releases connections and returns the report.
    pub fn finish(&mut self) -> UploadReport {
        self.sender.close();
        let mut r = self.report.clone();
        r.pending = self.queue.len();
        r
    }
}

/// What [`deliver`] achieved.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delivery {
    /// What this process sent (when it held the destination, from the start or after taking
    /// it over); `pending` counts every instance still queued for the destination, or, if
    /// another uploader kept it to the end, the given instances it has not settled yet;
    /// `failed` also lists the given instances the other uploader had refused.
    pub upload: UploadReport,
    /// Another uploader held the destination at the start.
    pub other_uploader: bool,
    /// Of the given instances, how many the other uploader sent.
    pub sent_by_other_uploader: usize,
}

/// Sends `uids` (pending instances in the outbox) to `destination`, with whatever else is
/// pending there.
///
/// When another uploader holds the destination (a `roboct outbox flush --watch` service, a
/// stream), it is the one that sends: this waits until it has settled every one of `uids`
/// (sent or failed), and takes the destination over as soon as that uploader lets it go.
/// Returns then, on a configuration error, or at `deadline`, whichever comes first.
pub fn deliver(
    outbox: &Outbox,
    destination: &str,
    uids: &[String],
    sender: Box<dyn Sender>,
    policy: UploadPolicy,
    deadline: Option<Instant>,
    progress: &dyn roboct_core::Progress,
) -> Result<Delivery, OutboxError> {
    let mut delivery = Delivery::default();
    let mut open: Vec<String> = uids.to_vec();
    let lock = loop {
        match outbox.lock(destination) {
            Ok(lock) => break Some(lock),
            Err(OutboxError::Busy { .. }) => {
                if !delivery.other_uploader {
                    delivery.other_uploader = true;
                    progress.start("waiting for the running uploader", open.len() as u64);
                }
            }
            Err(e) => return Err(e),
        }
        let before = open.len();
        settle(outbox, destination, &mut open)?;
        progress.advance((before - open.len()) as u64);
        if open.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
            break None;
        }
        std::thread::sleep(POLL);
    };
    let mut sent_here = HashSet::new();
    if let Some(lock) = lock {
        if delivery.other_uploader {
            progress.finish();
        }
        let mut up = Uploader::with_lock(outbox.clone(), lock, sender, policy)?;
        delivery.upload = up.run(deadline, progress)?;
        sent_here = up.sent_at().keys().cloned().collect();
    } else {
        progress.finish();
        delivery.upload.pending = open.len();
    }
    if delivery.other_uploader {
        for uid in uids.iter().filter(|u| !sent_here.contains(*u)) {
            let Some(rec) = outbox.record(destination, uid)? else {
                continue;
            };
            match rec.state {
                ItemState::Sent => delivery.sent_by_other_uploader += 1,
                // Refused while the other uploader sent it: as much a failure of this
                // delivery as one refused here.
                ItemState::Failed if !delivery.upload.failed.iter().any(|(u, _)| u == uid) => {
                    delivery.upload.failed.push((
                        uid.clone(),
                        rec.last_error.unwrap_or_else(|| "refused".into()),
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(delivery)
}

/// Drops from `open` the instances whose records say sent or failed.
fn settle(outbox: &Outbox, destination: &str, open: &mut Vec<String>) -> Result<(), OutboxError> {
    let mut still = Vec::with_capacity(open.len());
    for uid in open.drain(..) {
        let state = outbox.record(destination, &uid)?.map(|r| r.state);
        if !matches!(state, Some(ItemState::Sent | ItemState::Failed)) {
            still.push(uid);
        }
    }
    *open = still;
    Ok(())
}

/// Why streaming failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// A slab could not be turned into DICOM.
    #[error("cannot make CT instances: {0}")]
    Ct(#[from] CtError),
    /// The outbox failed (disk full, permissions).
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The uploader thread panicked (a bug).
    #[error("the uploader thread stopped unexpectedly")]
    UploaderPanicked,
}

/// What streaming a series achieved.
#[derive(Clone, Debug, Default)]
pub struct StreamReport {
    /// The instances made, in z order (without their bytes).
    pub instances: Vec<crate::sr::ImageRef>,
    /// The upload by this call (its `pending` counts every instance of the destination still
    /// queued at the end, including ones left by earlier runs).
    pub upload: UploadReport,
    /// For each instance this call sent: from its slab's arrival to the PACS's confirmation.
    pub latencies: Vec<Duration>,
    /// From the first slab's arrival to the confirmation of the series' first slice (when
    /// this call sent it).
    pub first_slice_latency: Option<Duration>,
    /// When the last slab arrived, counted from the first slab's arrival.
    pub last_slab_at: Option<Duration>,
    /// When the PACS confirmed the first instance this call sent, counted from the first
    /// slab's arrival. Smaller than `last_slab_at` when slices reached the PACS while later
    /// slabs were still being reconstructed.
    pub first_stored_at: Option<Duration>,
    /// Another uploader (e.g. `roboct outbox flush --watch`) held the destination when
    /// streaming began: the slices were queued for it, and this call took over the sending
    /// only if and when that uploader let the destination go.
    pub queued_for_other_uploader: bool,
    /// Instances of this series that another uploader sent.
    pub sent_by_other_uploader: usize,
}

enum Notice {
    Queued(String, Instant),
    Done,
}

/// Where [`stream_series`] sends, and how hard it tries.
pub struct StreamTarget {
    /// The outbox every instance is written to first.
    pub outbox: Outbox,
    /// The destination's name (its outbox folder).
    pub destination: String,
    /// How to reach it.
    pub sender: Box<dyn Sender>,
    /// Retries and rate.
    pub policy: UploadPolicy,
    /// How long to keep retrying after the last slab before returning (what is left stays
    /// in the outbox, for the next run or the destination's uploader service).
    pub drain_timeout: Duration,
}

/// What the uploader thread hands back.
struct Drained {
    upload: UploadReport,
    sent_at: HashMap<String, Instant>,
    ready: HashMap<String, Instant>,
    sent_by_other: usize,
}

/// How often a stream whose destination is held elsewhere looks at the lock and the outbox.
const POLL: Duration = Duration::from_millis(200);

/// Streams a reconstruction to a destination while it is being computed.
///
/// Slabs arrive on `slabs` (from the reconstruction thread); each slice is converted to HU
/// ([`VoxelUnits`]), written and fsynced to the outbox, and handed to an uploader thread that
/// sends it at once, while the next slice is being converted. Returns when the channel is
/// closed and the queue is drained, or `drain_timeout` after the last slab.
///
/// When another uploader holds the destination, every slice is still queued durably; the
/// stream then waits (up to `drain_timeout` after the last slab) for that uploader to send
/// them, and takes the destination over as soon as that uploader lets it go.
pub fn stream_series(
    slabs: Receiver<VolumeSlab>,
    writer: &CtSeriesWriter,
    units: VoxelUnits,
    target: StreamTarget,
) -> Result<StreamReport, StreamError> {
    let StreamTarget {
        outbox,
        destination,
        sender,
        policy,
        drain_timeout,
    } = target;
    let mut report = StreamReport::default();
    // Either this stream holds the destination (an uploader), or another uploader does and
    // the sender waits in case that one lets go.
    let (uploader, spare) = match outbox.lock(&destination) {
        Ok(lock) => (
            Some(Uploader::with_lock(outbox.clone(), lock, sender, policy)?),
            None,
        ),
        Err(OutboxError::Busy { .. }) => {
            tracing::info!(destination = %destination, "another uploader holds the destination: queueing for it");
            report.queued_for_other_uploader = true;
            (None, Some((sender, policy)))
        }
        Err(e) => return Err(e.into()),
    };
    let (tx, rx) = channel::<Notice>();
    let worker = {
        let (outbox, destination) = (outbox.clone(), destination.clone());
        std::thread::spawn(move || {
            upload_worker(&outbox, &destination, uploader, spare, &rx, drain_timeout)
        })
    };
    let mut first_arrival: Option<Instant> = None;
    let mut produce = || -> Result<(), StreamError> {
        for slab in slabs.iter() {
            let arrived = Instant::now();
            first_arrival.get_or_insert(arrived);
            CtSeriesWriter::check_slab(&slab)?;
            // Slice by slice, so the first slice is on its way while the next is converted.
            for k in 0..slab.data.dim().0 {
                let inst: Instance = writer.slab_slice(&slab, k, units)?;
                outbox.enqueue(&destination, &inst.bytes)?;
                report.instances.push((&inst).into());
                let _ = tx.send(Notice::Queued(inst.sop_instance_uid.clone(), arrived));
            }
            report.last_slab_at = first_arrival.map(|f| arrived - f);
        }
        Ok(())
    };
    let produced = produce();
    let _ = tx.send(Notice::Done);
    let drained = worker.join().map_err(|_| StreamError::UploaderPanicked)??;
    produced?;
    let Drained {
        upload,
        sent_at,
        ready,
        sent_by_other,
    } = drained;
    report.upload = upload;
    report.sent_by_other_uploader = sent_by_other;
    for r in &report.instances {
        if let (Some(s), Some(t)) = (
            sent_at.get(&r.sop_instance_uid),
            ready.get(&r.sop_instance_uid),
        ) {
            report.latencies.push(s.saturating_duration_since(*t));
        }
    }
    if let Some(first) = report.instances.first()
        && let (Some(s), Some(t)) = (
            sent_at.get(&first.sop_instance_uid),
            ready.get(&first.sop_instance_uid),
        )
    {
        report.first_slice_latency = Some(s.saturating_duration_since(*t));
    }
    if let Some(f) = first_arrival {
        report.first_stored_at = sent_at
            .values()
            .min()
            .map(|s| s.saturating_duration_since(f));
    }
    Ok(report)
}

/// The uploader thread of [`stream_series`]: `uploader` when this stream holds the
/// destination, else `spare` (the sender, kept to take over when the lock comes free).
fn upload_worker(
    outbox: &Outbox,
    destination: &str,
    mut uploader: Option<Uploader>,
    mut spare: Option<(Box<dyn Sender>, UploadPolicy)>,
    rx: &Receiver<Notice>,
    drain_timeout: Duration,
) -> Result<Drained, OutboxError> {
    let mut ready: HashMap<String, Instant> = HashMap::new();
    // This stream's instances not known to be settled (sent or failed) while another
    // uploader sends them.
    let mut open: Vec<String> = Vec::new();
    let mut done_at: Option<Instant> = None;
    let mut last_look: Option<Instant> = None;
    let mut notice = |n: Notice,
                      uploader: &mut Option<Uploader>,
                      done_at: &mut Option<Instant>,
                      open: &mut Vec<String>|
     -> Result<(), OutboxError> {
        match n {
            Notice::Queued(uid, t) => {
                if let Some(u) = uploader {
                    u.add(&uid)?;
                }
                ready.insert(uid.clone(), t);
                open.push(uid);
            }
            Notice::Done => {
                done_at.get_or_insert_with(Instant::now);
            }
        }
        Ok(())
    };
    loop {
        loop {
            match rx.try_recv() {
                Ok(n) => notice(n, &mut uploader, &mut done_at, &mut open)?,
                Err(TryRecvError::Disconnected) => {
                    done_at.get_or_insert_with(Instant::now);
                    break;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        let timed_out = done_at.is_some_and(|d| d.elapsed() >= drain_timeout);
        let nap = if let Some(u) = uploader.as_mut() {
            let mut idle = u.pending() == 0 || u.stopped_by().is_some();
            if idle && u.stopped_by().is_none() && last_look.is_none_or(|t| t.elapsed() >= POLL) {
                // While this stream holds the destination, what others queue for it (a
                // stream that found it held, `roboct upload`) goes out from here too.
                last_look = Some(Instant::now());
                idle = u.refresh()? == 0;
            }
            if done_at.is_some() && (idle || timed_out) {
                break;
            }
            let wait = u.wait_time();
            if !idle && wait.is_zero() {
                u.step()?;
                continue;
            }
            if idle { POLL } else { wait.min(POLL) }
        } else {
            if last_look.is_none_or(|t| t.elapsed() >= POLL) {
                last_look = Some(Instant::now());
                settle(outbox, destination, &mut open)?;
                if done_at.is_some() && (open.is_empty() || timed_out) {
                    break;
                }
                // Take over when the other uploader lets go: it may have finished before
                // the last slices were queued.
                match outbox.lock(destination) {
                    Ok(lock) => {
                        let (sender, policy) =
                            spare.take().expect("kept while another uploader sends");
                        tracing::info!(
                            destination,
                            "the other uploader let the destination go: sending from here"
                        );
                        uploader = Some(Uploader::with_lock(outbox.clone(), lock, sender, policy)?);
                        continue;
                    }
                    Err(OutboxError::Busy { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            POLL
        };
        if done_at.is_some() {
            std::thread::sleep(nap);
            continue;
        }
        match rx.recv_timeout(nap) {
            Ok(n) => notice(n, &mut uploader, &mut done_at, &mut open)?,
            Err(RecvTimeoutError::Disconnected) => {
                done_at.get_or_insert_with(Instant::now);
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
    let (upload, sent_at) = match uploader.as_mut() {
        Some(u) => (u.finish(), u.sent_at().clone()),
        None => (
            UploadReport {
                pending: open.len(),
                ..UploadReport::default()
            },
            HashMap::new(),
        ),
    };
    let mut sent_by_other = 0;
    for uid in ready.keys().filter(|u| !sent_at.contains_key(*u)) {
        if outbox
            .record(destination, uid)?
            .is_some_and(|r| r.state == ItemState::Sent)
        {
            sent_by_other += 1;
        }
    }
    Ok(Drained {
        upload,
        sent_at,
        ready,
        sent_by_other,
    })
}
