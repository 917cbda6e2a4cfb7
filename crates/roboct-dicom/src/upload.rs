//! The uploader: drains a destination's outbox queue in order, retrying with backoff, and the
//! real-time pipeline that turns reconstruction slabs into stored instances as they arrive.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use roboct_geometry::VolumeSlab;

use crate::ct::{CtError, CtSeriesWriter, Instance, VoxelUnits};
use crate::outbox::{ItemRecord, ItemState, Outbox, OutboxError, UploaderLock, backoff, now_ms};
use crate::send::{Outgoing, Sender};

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
    pub fn new(
        outbox: Outbox,
        destination: &str,
        sender: Box<dyn Sender>,
        policy: UploadPolicy,
    ) -> Result<Self, OutboxError> {
        let lock = outbox.lock(destination)?;
        let queue = outbox
            .records(destination)?
            .into_iter()
            .filter(|r| r.state == ItemState::Pending)
            .collect();
        Ok(Self {
            outbox,
            destination: destination.to_string(),
            sender,
            policy,
            queue,
            consecutive_failures: 0,
            blocked_until: None,
            last_send: None,
            report: UploadReport::default(),
            sent_at: HashMap::new(),
            _lock: lock,
        })
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
    /// down or busy: trying the next instance now would fail the same way); a permanent
    /// refusal marks that instance failed and moves on.
    pub fn step(&mut self) -> Result<usize, OutboxError> {
        if self.queue.is_empty() || !self.wait_time().is_zero() {
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
                Err(e) if e.transient => {
                    transient = true;
                    rec.last_error = Some(e.message.clone());
                    self.report.last_transient_error = Some(e.message);
                    keep.push_back(rec);
                }
                Err(e) => {
                    tracing::warn!(uid = %rec.sop_instance_uid, error = %e.message, "instance refused");
                    rec.state = ItemState::Failed;
                    rec.last_error = Some(e.message.clone());
                    self.outbox.write_state(&self.destination, &rec)?;
                    self.report
                        .failed
                        .push((rec.sop_instance_uid.clone(), e.message));
                }
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

    /// Sends until the queue is empty or `deadline` passes; the rest stays pending.
    pub fn run(
        &mut self,
        deadline: Option<Instant>,
        progress: &dyn roboct_core::Progress,
    ) -> Result<UploadReport, OutboxError> {
        progress.start("uploading", self.queue.len() as u64);
        while !self.queue.is_empty() {
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

    /// Releases connections and returns the report.
    pub fn finish(&mut self) -> UploadReport {
        self.sender.close();
        let mut r = self.report.clone();
        r.pending = self.queue.len();
        r
    }
}

/// Why streaming failed.
#[derive(Debug, thiserror::Error)]
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
    /// The upload.
    pub upload: UploadReport,
    /// For each confirmed instance: from its slab's arrival to the PACS's confirmation.
    pub latencies: Vec<Duration>,
    /// From the first slab's arrival to the first instance confirmed.
    pub first_slice_latency: Option<Duration>,
    /// When the last slab arrived and when the last instance was confirmed, relative to the
    /// first slab's arrival.
    pub last_slab_at: Option<Duration>,
    /// See `last_slab_at`.
    pub first_stored_at: Option<Duration>,
    /// Another uploader held the destination: every slice was queued durably for it to send,
    /// none was sent by this call.
    pub queued_for_other_uploader: bool,
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
    /// in the outbox for the next run).
    pub drain_timeout: Duration,
}

/// Streams a reconstruction to a destination while it is being computed.
///
/// Slabs arrive on `slabs` (from the reconstruction thread); each slice is converted to HU
/// ([`VoxelUnits`]), written and fsynced to the outbox, and handed to an uploader thread that
/// sends it at once, while the next slice is being converted. Returns when the channel is
/// closed and the queue is drained, or `drain_timeout` after the last slab.
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
    let (outbox, destination) = (&outbox, destination.as_str());
    let (tx, rx) = channel::<Notice>();
    let mut report = StreamReport::default();
    let mut uploader = match Uploader::new(outbox.clone(), destination, sender, policy) {
        Ok(u) => u,
        Err(OutboxError::Busy { .. }) => {
            // Another uploader (e.g. `roboct outbox flush`) owns this destination: queue every
            // slice durably and let it send them.
            tracing::warn!(destination, "another uploader is sending: queueing only");
            report.queued_for_other_uploader = true;
            drop(rx);
            for slab in slabs.iter() {
                CtSeriesWriter::check_slab(&slab)?;
                for k in 0..slab.data.dim().0 {
                    let inst = writer.slab_slice(&slab, k, units)?;
                    outbox.enqueue(destination, &inst.bytes)?;
                    report.instances.push((&inst).into());
                }
            }
            report.upload.pending = report.instances.len();
            return Ok(report);
        }
        Err(e) => return Err(e.into()),
    };
    let worker = std::thread::spawn(
        move || -> Result<(Uploader, HashMap<String, Instant>), OutboxError> {
            let mut ready: HashMap<String, Instant> = HashMap::new();
            let mut done_at: Option<Instant> = None;
            loop {
                loop {
                    match rx.try_recv() {
                        Ok(Notice::Queued(uid, t)) => {
                            uploader.add(&uid)?;
                            ready.insert(uid, t);
                        }
                        Ok(Notice::Done) | Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                            done_at.get_or_insert_with(Instant::now);
                            break;
                        }
                        Err(std::sync::mpsc::TryRecvError::Empty) => break,
                    }
                }
                if let Some(d) = done_at
                    && (uploader.pending() == 0 || d.elapsed() >= drain_timeout)
                {
                    return Ok((uploader, ready));
                }
                let wait = uploader.wait_time();
                if uploader.pending() > 0 && wait.is_zero() {
                    uploader.step()?;
                    continue;
                }
                let nap = if uploader.pending() == 0 {
                    Duration::from_millis(200)
                } else {
                    wait.min(Duration::from_millis(200))
                };
                if done_at.is_some() {
                    std::thread::sleep(nap);
                    continue;
                }
                match rx.recv_timeout(nap) {
                    Ok(Notice::Queued(uid, t)) => {
                        uploader.add(&uid)?;
                        ready.insert(uid, t);
                    }
                    Ok(Notice::Done) | Err(RecvTimeoutError::Disconnected) => {
                        done_at.get_or_insert_with(Instant::now);
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                }
            }
        },
    );
    let mut first_arrival: Option<Instant> = None;
    let mut produce = || -> Result<(), StreamError> {
        for slab in slabs.iter() {
            let arrived = Instant::now();
            first_arrival.get_or_insert(arrived);
            CtSeriesWriter::check_slab(&slab)?;
            // Slice by slice, so the first slice is on its way while the next is converted.
            for k in 0..slab.data.dim().0 {
                let inst: Instance = writer.slab_slice(&slab, k, units)?;
                outbox.enqueue(destination, &inst.bytes)?;
                report.instances.push((&inst).into());
                let _ = tx.send(Notice::Queued(inst.sop_instance_uid.clone(), arrived));
            }
            report.last_slab_at = first_arrival.map(|f| arrived - f);
        }
        Ok(())
    };
    let produced = produce();
    let _ = tx.send(Notice::Done);
    let joined = worker.join().map_err(|_| StreamError::UploaderPanicked)?;
    let (mut uploader, ready) = joined?;
    produced?;
    report.upload = uploader.finish();
    let sent_at = uploader.sent_at();
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
