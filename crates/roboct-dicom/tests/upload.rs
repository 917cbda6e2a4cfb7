//! Nothing lost, nothing sent twice: C-STORE and STOW-RS to a real Orthanc through the durable
//! outbox, with the PACS killed mid-series, the uploader killed mid-series, an outage longer
//! than a stream's patience, and a stream whose destination another uploader holds.
//!
//! Orthanc keeps one copy per SOP Instance UID, so the tests count receptions instead (every
//! instance that reaches Orthanc, by any route, is logged before Orthanc looks at it: see
//! `common::Orthanc`). Every kill is gated on an observable event, never on a clock.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::time::Duration;

use common::*;
use ndarray::Array3;
use roboct_dicom::ct::{Instance, VoxelUnits};
use roboct_dicom::outbox::{Enqueued, ItemState, Outbox};
use roboct_dicom::part10::DEFLATED_EXPLICIT_VR_LE;
use roboct_dicom::send::{DimseSender, Outgoing, SendError, Sender};
use roboct_dicom::uid::UidGenerator;
use roboct_dicom::upload::{StreamReport, StreamTarget, Uploader, deliver, stream_series};
use roboct_geometry::{Volume, VolumeSlab};

#[test]
fn c_store_and_stow_store_identical_bytes_once() {
    let orthanc = Orthanc::start();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let a = series(16, 4);
    let b = series(16, 5);
    for i in &a {
        outbox.enqueue("dimse", &i.bytes).unwrap();
    }
    let mut up = Uploader::new(
        outbox.clone(),
        "dimse",
        dimse_to(orthanc.peer()),
        fast_policy(),
    )
    .unwrap();
    let r = up.run(None, &roboct_core::NoProgress).unwrap();
    assert_eq!((r.sent, r.pending, r.failed.len()), (4, 0, 0));
    drop(up);
    for i in &b {
        outbox.enqueue("web", &i.bytes).unwrap();
    }
    let sender = Box::new(stow_to(
        &format!("{}/dicom-web", orthanc.url()),
        orthanc_auth(),
    ));
    let mut up = Uploader::new(outbox.clone(), "web", sender, fast_policy()).unwrap();
    let r = up.run(None, &roboct_core::NoProgress).unwrap();
    assert_eq!((r.sent, r.pending), (5, 0), "{r:?}");
    drop(up);
    // Enqueueing again is a no-op; a second run sends nothing.
    for i in &a {
        assert!(matches!(
            outbox.enqueue("dimse", &i.bytes).unwrap(),
            Enqueued::Duplicate(_, ItemState::Sent)
        ));
    }
    let mut up = Uploader::new(
        outbox.clone(),
        "dimse",
        dimse_to(orthanc.peer()),
        fast_policy(),
    )
    .unwrap();
    assert_eq!(up.run(None, &roboct_core::NoProgress).unwrap().sent, 0);
    let st = outbox.status().unwrap();
    assert_eq!(st.iter().map(|s| s.sent).sum::<usize>(), 9);
    let all: Vec<Instance> = a.iter().chain(&b).cloned().collect();
    assert_all_arrived(&orthanc, &all);
}

#[test]
fn the_reception_count_sees_a_resend() {
    // The check the other tests rely on can fail: Orthanc stores one copy of an instance sent
    // twice, but the count says two.
    let orthanc = Orthanc::start();
    let inst = series(8, 2);
    let mut s = DimseSender::new(
        orthanc.peer(),
        options(),
        roboct_dicom::part10::EXPLICIT_VR_LE,
    );
    fn out(i: &Instance) -> Outgoing<'_> {
        Outgoing {
            sop_instance_uid: &i.sop_instance_uid,
            bytes: &i.bytes,
        }
    }
    for r in s.send_batch(&[out(&inst[0]), out(&inst[1]), out(&inst[0])]) {
        r.unwrap();
    }
    s.close();
    assert_eq!(orthanc.stored().len(), 2);
    assert_eq!(orthanc.receptions()[&inst[0].sop_instance_uid], 2);
    assert_arrived(&orthanc, &inst, &[&inst[0].sop_instance_uid]);
    let strict = std::panic::catch_unwind(|| assert_all_arrived(&orthanc, &inst));
    assert!(strict.is_err(), "a resend must fail the strict check");
}

#[test]
fn deflated_files_go_out_compressed() {
    let orthanc = Orthanc::start();
    let uids = UidGenerator::default();
    let w = writer(&uids).transfer_syntax(DEFLATED_EXPLICIT_VR_LE);
    let data = Array3::from_elem((2, 32, 32), -1000.0f32);
    let inst = w
        .volume(
            &Volume::from_array(grid(32, 2), data).unwrap(),
            VoxelUnits::Hu,
        )
        .unwrap();
    assert!(
        inst[0].bytes.len() < 32 * 32 * 2,
        "deflate should shrink a flat image"
    );
    let mut s = DimseSender::new(orthanc.peer(), options(), DEFLATED_EXPLICIT_VR_LE);
    let out: Vec<_> = inst
        .iter()
        .map(|i| Outgoing {
            sop_instance_uid: &i.sop_instance_uid,
            bytes: &i.bytes,
        })
        .collect();
    for r in s.send_batch(&out) {
        r.unwrap();
    }
    s.close();
    let stored = orthanc.stored();
    for i in &inst {
        let got = &stored[&i.sop_instance_uid];
        let (info, obj) = roboct_dicom::part10::decode_part10(got).unwrap();
        assert_eq!(info.transfer_syntax_uid, DEFLATED_EXPLICIT_VR_LE);
        let (_, ours) = roboct_dicom::part10::decode_part10(&i.bytes).unwrap();
        let px = dicom_dictionary_std::tags::PIXEL_DATA;
        assert_eq!(
            obj.element(px).unwrap().to_bytes().unwrap(),
            ours.element(px).unwrap().to_bytes().unwrap()
        );
    }
    assert_all_arrived(&orthanc, &inst);
}

/// A stream of `nz` one-slice slabs of 32 x 32 on its own thread. The producer sends the
/// first `pause_at` slabs, then waits for a word on the returned sender before the rest.
fn paced_producer(
    nz: usize,
    pause_at: usize,
) -> (
    std::sync::mpsc::Receiver<VolumeSlab>,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = channel();
    let (go_tx, go_rx) = channel::<()>();
    let g = grid(32, nz);
    let producer = std::thread::spawn(move || {
        for z in 0..nz {
            if z == pause_at {
                go_rx.recv().unwrap();
            }
            let data = Array3::from_elem((1, 32, 32), z as f32 * 10.0);
            tx.send(VolumeSlab {
                z_start: z,
                data,
                volume_grid: g.clone(),
            })
            .unwrap();
        }
    });
    (rx, go_tx, producer)
}

fn stream_in_thread(
    rx: std::sync::mpsc::Receiver<VolumeSlab>,
    outbox: &Outbox,
    sender: Box<dyn Sender>,
    drain_timeout: Duration,
) -> std::thread::JoinHandle<StreamReport> {
    let ob = outbox.clone();
    std::thread::spawn(move || {
        let uids = UidGenerator::default();
        stream_series(
            rx,
            &writer(&uids),
            VoxelUnits::Hu,
            StreamTarget {
                outbox: ob,
                destination: "pacs".into(),
                sender,
                policy: fast_policy(),
                drain_timeout,
            },
        )
        .unwrap()
    })
}

#[test]
fn stream_survives_the_pacs_being_killed_mid_series() {
    let tmp = tempfile::tempdir().unwrap();
    let pacs_dir = tmp.path().join("pacs");
    let (http, port) = (free_port(), free_port());
    let mut orthanc = Orthanc::start_in(&pacs_dir, http, port, None);
    let outbox = Outbox::open(tmp.path().join("outbox")).unwrap();
    let (nz, first) = (20, 8);
    let (rx, go, producer) = paced_producer(nz, first);
    let streamer = stream_in_thread(
        rx,
        &outbox,
        dimse_to(orthanc.peer()),
        Duration::from_secs(120),
    );
    // The PACS dies once it holds the first slices, with nothing in flight, mid-series.
    wait_until("the first slices stored", || {
        count_in(&outbox, "pacs", ItemState::Sent) == first
    });
    orthanc.proc.kill();
    go.send(()).unwrap();
    // It comes back only once the uploader has run into the outage.
    wait_until("a failed attempt", || {
        outbox
            .records("pacs")
            .unwrap()
            .iter()
            .any(|r| r.state == ItemState::Pending && r.last_error.is_some())
    });
    let orthanc = Orthanc::start_in(&pacs_dir, http, port, None);
    producer.join().unwrap();
    let report = streamer.join().unwrap();
    assert_eq!(report.instances.len(), nz);
    assert_eq!(report.upload.pending, 0, "{:?}", report.upload);
    assert!(
        report.upload.last_transient_error.is_some(),
        "the outage was noticed"
    );
    assert_all_arrived(&orthanc, &outbox_instances(&outbox, "pacs"));
}

/// Wraps a sender: after `left` batches it sends one more, and once the PACS has confirmed
/// it, before the uploader can record that, creates `marker` and hangs, to be killed.
struct HangAfter {
    inner: Box<dyn Sender>,
    left: usize,
    marker: PathBuf,
}

impl Sender for HangAfter {
    fn send_batch(&mut self, items: &[Outgoing<'_>]) -> Vec<Result<(), SendError>> {
        let results = self.inner.send_batch(items);
        if self.left == 0 {
            assert!(results.iter().all(Result::is_ok), "{results:?}");
            std::fs::write(&self.marker, items[0].sop_instance_uid).unwrap();
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        self.left -= 1;
        results
    }
}

/// Run by `uploader_killed_mid_series_resumes` in a child process: uploads the outbox at
/// `ROBOCT_CHILD_OUTBOX` to the Orthanc DICOM port `ROBOCT_CHILD_PORT` and hangs, as
/// [`HangAfter`] says, after `ROBOCT_CHILD_AFTER` instances.
#[test]
#[ignore = "helper: run as a child process by uploader_killed_mid_series_resumes"]
fn child_uploader() {
    let Ok(dir) = std::env::var("ROBOCT_CHILD_OUTBOX") else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap();
    let sender = Box::new(HangAfter {
        inner: dimse_to(loopback_peer(
            "ORTHANC",
            var("ROBOCT_CHILD_PORT").parse().unwrap(),
        )),
        left: var("ROBOCT_CHILD_AFTER").parse().unwrap(),
        marker: var("ROBOCT_CHILD_MARKER").into(),
    });
    let mut up = Uploader::new(Outbox::open(dir).unwrap(), "pacs", sender, fast_policy()).unwrap();
    up.run(None, &roboct_core::NoProgress).unwrap();
}

#[test]
fn uploader_killed_mid_series_resumes() {
    let orthanc = Orthanc::start();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path().join("box")).unwrap();
    let instances = series(32, 24);
    enqueue_all(&outbox, &instances);
    let marker = tmp.path().join("hanging");
    let after = 10;
    let mut child = spawn(
        "child uploader",
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_uploader", "--ignored", "--nocapture"])
            .env("ROBOCT_CHILD_OUTBOX", tmp.path().join("box"))
            .env("ROBOCT_CHILD_PORT", orthanc.dicom_port.to_string())
            .env("ROBOCT_CHILD_AFTER", after.to_string())
            .env("ROBOCT_CHILD_MARKER", &marker),
    );
    wait_until("the child to hang after a confirmation", || marker.exists());
    // The worst moment: the PACS holds instance `after` but the outbox still says pending.
    child.kill(); // SIGKILL: no cleanup
    let swallowed = std::fs::read_to_string(&marker).unwrap();
    assert_eq!(swallowed, instances[after].sop_instance_uid);
    assert_eq!(count_in(&outbox, "pacs", ItemState::Sent), after);
    assert_eq!(orthanc.receptions().values().sum::<usize>(), after + 1);
    // Restart: the new uploader takes the lock the dead one held and resumes. It sends what
    // the outbox has as pending, once: the one confirmation the crash swallowed is resent
    // (and absorbed by the PACS under the same UID), nothing confirmed is.
    let mut up = pacs_uploader(&outbox, dimse_to(orthanc.peer()));
    let r = up.run(None, &roboct_core::NoProgress).unwrap();
    drop(up);
    assert_eq!((r.sent, r.pending), (instances.len() - after, 0), "{r:?}");
    assert_arrived(&orthanc, &instances, &[&swallowed]);
    assert_eq!(
        count_in(&outbox, "pacs", ItemState::Sent),
        instances.len(),
        "every record says sent"
    );
}

/// Wraps a sender and queues one more instance in the outbox the first time it sends, as
/// another process would while an uploader is running.
struct QueueOneMeanwhile {
    inner: Box<dyn Sender>,
    outbox: Outbox,
    late: Option<Vec<u8>>,
}

impl Sender for QueueOneMeanwhile {
    fn send_batch(&mut self, items: &[Outgoing<'_>]) -> Vec<Result<(), SendError>> {
        if let Some(bytes) = self.late.take() {
            self.outbox.enqueue("pacs", &bytes).unwrap();
        }
        self.inner.send_batch(items)
    }
}

#[test]
fn a_running_uploader_sends_what_was_queued_meanwhile() {
    let orthanc = Orthanc::start();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let inst = series(16, 3);
    enqueue_all(&outbox, &inst[..2]);
    let sender = Box::new(QueueOneMeanwhile {
        inner: dimse_to(orthanc.peer()),
        outbox: outbox.clone(),
        late: Some(inst[2].bytes.clone()),
    });
    let mut up = pacs_uploader(&outbox, sender);
    assert_eq!(up.pending(), 2);
    let r = up.run(None, &roboct_core::NoProgress).unwrap();
    drop(up);
    assert_eq!((r.sent, r.pending), (3, 0), "{r:?}");
    assert_all_arrived(&orthanc, &inst);
}

/// The destination's uploader service on its own thread, until `stop` is set.
fn service(
    up: Uploader,
    stop: &Arc<AtomicBool>,
) -> std::thread::JoinHandle<roboct_dicom::upload::UploadReport> {
    let stop = stop.clone();
    let mut up = up;
    std::thread::spawn(move || {
        up.serve(&|| !stop.load(Ordering::SeqCst), Duration::from_millis(100))
            .unwrap()
    })
}

#[test]
fn a_stream_hands_its_slices_to_the_running_uploader_service() {
    let orthanc = Orthanc::start();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    // The service holds the destination before the stream starts.
    let up = pacs_uploader(&outbox, dimse_to(orthanc.peer()));
    let stop = Arc::new(AtomicBool::new(false));
    let svc = service(up, &stop);
    let (rx, go, producer) = paced_producer(12, 0);
    go.send(()).unwrap();
    let report = stream_in_thread(
        rx,
        &outbox,
        dimse_to(orthanc.peer()),
        Duration::from_secs(120),
    )
    .join()
    .unwrap();
    producer.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    let served = svc.join().unwrap();
    assert!(report.queued_for_other_uploader);
    assert_eq!(
        (
            report.sent_by_other_uploader,
            report.upload.sent,
            report.upload.pending
        ),
        (12, 0, 0),
        "{report:?}"
    );
    assert_eq!(served.sent, 12);
    assert_all_arrived(&orthanc, &outbox_instances(&outbox, "pacs"));
}

#[test]
fn a_stream_takes_over_when_the_other_uploader_lets_go() {
    let orthanc = Orthanc::start();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let other = outbox.lock("pacs").unwrap();
    let (nz, first) = (10, 4);
    let (rx, go, producer) = paced_producer(nz, first);
    let streamer = stream_in_thread(
        rx,
        &outbox,
        dimse_to(orthanc.peer()),
        Duration::from_secs(120),
    );
    wait_until("the first slices queued", || {
        count_in(&outbox, "pacs", ItemState::Pending) == first
    });
    assert!(orthanc.receptions().is_empty(), "nothing sent yet");
    // The other uploader goes away (it had finished its own queue) before the series ends.
    drop(other);
    go.send(()).unwrap();
    producer.join().unwrap();
    let report = streamer.join().unwrap();
    assert!(report.queued_for_other_uploader);
    assert_eq!(
        (
            report.upload.sent,
            report.upload.pending,
            report.sent_by_other_uploader
        ),
        (nz, 0, 0),
        "{report:?}"
    );
    assert_all_arrived(&orthanc, &outbox_instances(&outbox, "pacs"));
}

#[test]
fn an_outage_longer_than_the_stream_waits_is_retried_by_the_uploader_service() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path().join("box")).unwrap();
    let (http, port) = (free_port(), free_port());
    let peer = loopback_peer("ORTHANC", port);
    // The PACS is down for the whole stream: it returns with everything still queued.
    let (rx, go, producer) = paced_producer(6, 0);
    go.send(()).unwrap();
    let report = stream_in_thread(
        rx,
        &outbox,
        dimse_to(peer.clone()),
        Duration::from_millis(300),
    )
    .join()
    .unwrap();
    producer.join().unwrap();
    assert_eq!((report.upload.sent, report.upload.pending), (0, 6));
    assert!(report.upload.last_transient_error.is_some());
    // The service retries with backoff and delivers once the PACS is back.
    let up = pacs_uploader(&outbox, dimse_to(peer));
    let stop = Arc::new(AtomicBool::new(false));
    let svc = service(up, &stop);
    wait_until("a retry by the service", || {
        outbox
            .records("pacs")
            .unwrap()
            .iter()
            .any(|r| r.attempts >= 2)
    });
    let orthanc = Orthanc::start_in(&tmp.path().join("pacs"), http, port, None);
    wait_until("everything sent", || {
        count_in(&outbox, "pacs", ItemState::Sent) == 6
    });
    stop.store(true, Ordering::SeqCst);
    let served = svc.join().unwrap();
    assert_eq!((served.sent, served.pending), (6, 0), "{served:?}");
    assert_all_arrived(&orthanc, &outbox_instances(&outbox, "pacs"));
}

#[test]
fn streaming_while_another_uploader_holds_the_destination_queues_durably() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let _other = outbox.lock("pacs").unwrap();
    let (rx, go, producer) = paced_producer(6, 0);
    go.send(()).unwrap();
    let nobody = loopback_peer("NONE", free_port());
    let r = stream_in_thread(rx, &outbox, dimse_to(nobody), Duration::from_millis(500))
        .join()
        .unwrap();
    producer.join().unwrap();
    assert!(r.queued_for_other_uploader);
    assert_eq!(
        (
            r.instances.len(),
            r.upload.sent,
            r.upload.pending,
            r.sent_by_other_uploader
        ),
        (6, 0, 6, 0)
    );
    assert_eq!(outbox.status().unwrap()[0].pending, 6);
}

/// A progress that remembers the stages it was told about.
#[derive(Default)]
struct Stages(std::sync::Mutex<Vec<String>>);

impl roboct_core::Progress for Stages {
    fn start(&self, stage: &str, _total: u64) {
        self.0.lock().unwrap().push(stage.to_string());
    }
    fn advance(&self, _n: u64) {}
}

#[test]
fn deliver_waits_for_the_running_uploader_takes_over_when_it_leaves_and_reports_its_refusals() {
    let orthanc = Orthanc::start();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    // A service holds the destination: it sends them, `deliver` waits and says so.
    let up = pacs_uploader(&outbox, dimse_to(orthanc.peer()));
    let stop = Arc::new(AtomicBool::new(false));
    let svc = service(up, &stop);
    let a = series(16, 3);
    let uids = enqueue_all(&outbox, &a);
    let d = deliver(
        &outbox,
        "pacs",
        &uids,
        dimse_to(orthanc.peer()),
        fast_policy(),
        None,
        &roboct_core::NoProgress,
    )
    .unwrap();
    stop.store(true, Ordering::SeqCst);
    assert_eq!(svc.join().unwrap().sent, 3);
    assert!(d.other_uploader);
    assert_eq!(
        (
            d.sent_by_other_uploader,
            d.upload.sent,
            d.upload.pending,
            d.upload.failed.len()
        ),
        (3, 0, 0, 0),
        "{d:?}"
    );
    // Another holder that goes away without sending: `deliver` takes over and sends.
    let b = series(16, 2);
    let held = outbox.lock("pacs").unwrap();
    let uids = enqueue_all(&outbox, &b);
    let stages = Arc::new(Stages::default());
    let waiting = {
        let (outbox, stages, peer) = (outbox.clone(), stages.clone(), orthanc.peer());
        std::thread::spawn(move || {
            deliver(
                &outbox,
                "pacs",
                &uids,
                dimse_to(peer),
                fast_policy(),
                None,
                &*stages,
            )
            .unwrap()
        })
    };
    wait_until("deliver to wait for the holder", || {
        stages
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.starts_with("waiting"))
    });
    drop(held);
    let d = waiting.join().unwrap();
    assert!(d.other_uploader);
    assert_eq!(
        (d.sent_by_other_uploader, d.upload.sent, d.upload.pending),
        (0, 2, 0),
        "{d:?}"
    );
    let all: Vec<Instance> = a.iter().chain(&b).cloned().collect();
    assert_all_arrived(&orthanc, &all);
    // What the holder refused is a failure of the delivery too, with the holder's reason.
    let c = series(16, 1);
    let held = outbox.lock("pacs").unwrap();
    let uids = enqueue_all(&outbox, &c);
    let mut rec = outbox.record("pacs", &uids[0]).unwrap().unwrap();
    rec.state = ItemState::Failed;
    rec.last_error = Some("refused with status 0xA900".into());
    outbox.write_state("pacs", &rec).unwrap();
    let d = deliver(
        &outbox,
        "pacs",
        &uids,
        dimse_to(orthanc.peer()),
        fast_policy(),
        None,
        &roboct_core::NoProgress,
    )
    .unwrap();
    drop(held);
    assert_eq!(
        d.upload.failed,
        [(uids[0].clone(), "refused with status 0xA900".to_string())]
    );
    assert_eq!((d.sent_by_other_uploader, d.upload.pending), (0, 0));
}

#[test]
fn a_stream_holding_the_destination_sends_what_another_stream_queues() {
    let orthanc = Orthanc::start();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    // Stream A holds the destination and waits, mid-series, for its next slab.
    let (rx_a, go_a, producer_a) = paced_producer(6, 2);
    let stream_a = stream_in_thread(
        rx_a,
        &outbox,
        dimse_to(orthanc.peer()),
        Duration::from_secs(120),
    );
    wait_until("stream A's first slices stored", || {
        count_in(&outbox, "pacs", ItemState::Sent) == 2
    });
    // Stream B finds it held and queues; A sends B's slices while it waits. B returns only
    // once they are stored, so without A's help this would wait out B's two minutes.
    let (rx_b, go_b, producer_b) = paced_producer(4, 0);
    go_b.send(()).unwrap();
    let b = stream_in_thread(
        rx_b,
        &outbox,
        dimse_to(orthanc.peer()),
        Duration::from_secs(120),
    )
    .join()
    .unwrap();
    producer_b.join().unwrap();
    assert!(b.queued_for_other_uploader);
    assert_eq!(
        (b.sent_by_other_uploader, b.upload.sent, b.upload.pending),
        (4, 0, 0),
        "{b:?}"
    );
    go_a.send(()).unwrap();
    producer_a.join().unwrap();
    let a = stream_a.join().unwrap();
    assert!(!a.queued_for_other_uploader);
    assert_eq!((a.upload.sent, a.upload.pending), (10, 0), "{a:?}");
    assert_all_arrived(&orthanc, &outbox_instances(&outbox, "pacs"));
}
