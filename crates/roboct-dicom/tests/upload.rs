//! Nothing lost: C-STORE and STOW-RS to a real Orthanc, through the durable outbox, with the
//! PACS killed mid-series, the uploader killed mid-series, refusals, and bad TLS.

mod common;

use std::process::Command;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use common::*;
use ndarray::Array3;
use roboct_dicom::config::{CredentialSource, HttpAuth, Secret};
use roboct_dicom::ct::{CtSeriesInfo, CtSeriesWriter, Instance, VoxelUnits};
use roboct_dicom::outbox::{ItemState, Outbox};
use roboct_dicom::part10::DEFLATED_EXPLICIT_VR_LE;
use roboct_dicom::send::{DimseSender, Sender, StowSender};
use roboct_dicom::study::StudyContext;
use roboct_dicom::uid::UidGenerator;
use roboct_dicom::upload::{StreamTarget, UploadPolicy, Uploader, stream_series};
use roboct_geometry::{Volume, VolumeGrid, VolumeSlab};

fn writer(uids: &UidGenerator) -> CtSeriesWriter {
    let mut study = StudyContext::unscheduled(uids);
    study.patient.id = roboct_core::Phi::new("PID-UP".into());
    CtSeriesWriter::new(study, CtSeriesInfo::new(uids), uids.clone())
}

fn grid(n: usize, nz: usize) -> VolumeGrid {
    VolumeGrid::centered([n, n, nz], [0.8, 0.8, 1.5], [0.0, 0.0, 0.0]).unwrap()
}

fn series(n: usize, nz: usize) -> Vec<Instance> {
    let uids = UidGenerator::default();
    let data = Array3::from_shape_fn((nz, n, n), |(z, y, x)| (z * 7 + y + x) as f32 - 500.0);
    let v = Volume::from_array(grid(n, nz), data).unwrap();
    writer(&uids).volume(&v, VoxelUnits::Hu).unwrap()
}

fn fast_policy() -> UploadPolicy {
    UploadPolicy {
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(800),
        max_instances_per_s: None,
    }
}

fn dimse(orthanc: &Orthanc) -> Box<dyn Sender> {
    Box::new(DimseSender::new(
        orthanc.peer(),
        options(),
        roboct_dicom::part10::EXPLICIT_VR_LE,
    ))
}

fn stow(url: String) -> StowSender {
    StowSender::new(
        &url,
        HttpAuth::Basic {
            username: ORTHANC_USER.into(),
            password: CredentialSource::Value(Secret::new(ORTHANC_PASSWORD)),
        },
        None,
        Duration::from_secs(10),
        8,
    )
    .unwrap()
}

/// Every instance is in Orthanc exactly once, with the data set bytes we wrote.
fn assert_all_arrived(orthanc: &Orthanc, instances: &[Instance]) {
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
}

#[test]
fn c_store_and_stow_store_identical_bytes() {
    let orthanc = Orthanc::start();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let a = series(16, 4);
    let b = series(16, 5);
    for i in &a {
        outbox.enqueue("dimse", &i.bytes).unwrap();
    }
    let mut up = Uploader::new(outbox.clone(), "dimse", dimse(&orthanc), fast_policy()).unwrap();
    let r = up.run(None, &roboct_core::NoProgress).unwrap();
    assert_eq!((r.sent, r.pending, r.failed.len()), (4, 0, 0));
    drop(up);
    for i in &b {
        outbox.enqueue("web", &i.bytes).unwrap();
    }
    let sender = Box::new(stow(format!("{}/dicom-web", orthanc.url())));
    let mut up = Uploader::new(outbox.clone(), "web", sender, fast_policy()).unwrap();
    let r = up.run(None, &roboct_core::NoProgress).unwrap();
    assert_eq!((r.sent, r.pending), (5, 0), "{r:?}");
    drop(up);
    let all: Vec<Instance> = a.iter().chain(&b).cloned().collect();
    assert_all_arrived(&orthanc, &all);
    // Enqueueing again is a no-op; a second run sends nothing.
    for i in &a {
        assert!(matches!(
            outbox.enqueue("dimse", &i.bytes).unwrap(),
            roboct_dicom::outbox::Enqueued::Duplicate(_, ItemState::Sent)
        ));
    }
    let mut up = Uploader::new(outbox.clone(), "dimse", dimse(&orthanc), fast_policy()).unwrap();
    assert_eq!(up.run(None, &roboct_core::NoProgress).unwrap().sent, 0);
    let st = outbox.status().unwrap();
    assert_eq!(st.iter().map(|s| s.sent).sum::<usize>(), 9);
}

#[test]
fn deflated_files_go_out_compressed_or_converted() {
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
        .map(|i| roboct_dicom::send::Outgoing {
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
}

#[test]
fn stream_survives_the_pacs_being_killed_mid_series() {
    let tmp = tempfile::tempdir().unwrap();
    let pacs_dir = tmp.path().join("pacs");
    let (http, port) = (free_port(), free_port());
    let mut orthanc = Orthanc::start_in(&pacs_dir, http, port, None);
    let outbox = Outbox::open(tmp.path().join("outbox")).unwrap();
    let uids = UidGenerator::default();
    let w = writer(&uids);
    let nz = 30;
    let g = grid(64, nz);
    let (tx, rx) = channel();
    let g2 = g.clone();
    // A reconstruction that emits one-slice slabs every 30 ms.
    let producer = std::thread::spawn(move || {
        for z in 0..nz {
            let data = Array3::from_elem((1, 64, 64), z as f32 * 10.0);
            tx.send(VolumeSlab {
                z_start: z,
                data,
                volume_grid: g2.clone(),
            })
            .unwrap();
            std::thread::sleep(Duration::from_millis(30));
        }
    });
    let peer = orthanc.peer();
    let ob = outbox.clone();
    let streamer = std::thread::spawn(move || {
        stream_series(
            rx,
            &w,
            VoxelUnits::Hu,
            StreamTarget {
                outbox: ob,
                destination: "pacs".into(),
                sender: Box::new(DimseSender::new(
                    peer,
                    options(),
                    roboct_dicom::part10::EXPLICIT_VR_LE,
                )),
                policy: fast_policy(),
                drain_timeout: Duration::from_secs(60),
            },
        )
    });
    // Kill the PACS once a few slices are stored, keep it down, bring it back.
    let start = Instant::now();
    loop {
        let n = outbox
            .records("pacs")
            .unwrap()
            .iter()
            .filter(|r| r.state == ItemState::Sent)
            .count();
        if n >= 5 {
            break;
        }
        if streamer.is_finished() {
            panic!("streaming ended early: {:?}", streamer.join().unwrap());
        }
        assert!(start.elapsed() < Duration::from_secs(20), "nothing stored");
        std::thread::sleep(Duration::from_millis(10));
    }
    orthanc.proc.kill();
    std::thread::sleep(Duration::from_millis(700));
    let orthanc = Orthanc::start_in(&pacs_dir, http, port, None);
    producer.join().unwrap();
    let report = streamer.join().unwrap().unwrap();
    assert_eq!(report.instances.len(), nz);
    assert_eq!(report.upload.pending, 0, "{:?}", report.upload);
    assert!(
        report.upload.last_transient_error.is_some(),
        "the outage was noticed"
    );
    let instances: Vec<Instance> = report
        .instances
        .iter()
        .map(|r| Instance {
            sop_class_uid: r.sop_class_uid.clone(),
            sop_instance_uid: r.sop_instance_uid.clone(),
            series_instance_uid: r.series_instance_uid.clone(),
            bytes: outbox.read_object("pacs", &r.sop_instance_uid).unwrap(),
        })
        .collect();
    assert_all_arrived(&orthanc, &instances);
}

/// Run by `uploader_killed_mid_series_resumes` in a child process: uploads the outbox at
/// `ROBOCT_CHILD_OUTBOX` to the Orthanc DICOM port `ROBOCT_CHILD_PORT`, slowly.
#[test]
#[ignore = "helper: run as a child process by uploader_killed_mid_series_resumes"]
fn child_uploader() {
    let Ok(dir) = std::env::var("ROBOCT_CHILD_OUTBOX") else {
        return;
    };
    let port: u16 = std::env::var("ROBOCT_CHILD_PORT").unwrap().parse().unwrap();
    let peer = roboct_dicom::dimse::Peer {
        ae_title: "ORTHANC".into(),
        host: "127.0.0.1".into(),
        port,
    };
    let policy = UploadPolicy {
        max_instances_per_s: Some(25.0),
        ..fast_policy()
    };
    let sender = Box::new(DimseSender::new(
        peer,
        options(),
        roboct_dicom::part10::EXPLICIT_VR_LE,
    ));
    let mut up = Uploader::new(Outbox::open(dir).unwrap(), "pacs", sender, policy).unwrap();
    up.run(None, &roboct_core::NoProgress).unwrap();
}

#[test]
fn uploader_killed_mid_series_resumes() {
    let orthanc = Orthanc::start();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let instances = series(32, 40);
    for i in &instances {
        outbox.enqueue("pacs", &i.bytes).unwrap();
    }
    let mut child = Proc::spawn(
        "child uploader",
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_uploader", "--ignored", "--nocapture"])
            .env("ROBOCT_CHILD_OUTBOX", tmp.path())
            .env("ROBOCT_CHILD_PORT", orthanc.dicom_port.to_string()),
    );
    let start = Instant::now();
    loop {
        let n = orthanc.get_json("/instances").as_array().unwrap().len();
        if n >= 10 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "child sent nothing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill(); // SIGKILL: no cleanup, mid-series
    let sent_before = orthanc.get_json("/instances").as_array().unwrap().len();
    assert!(
        sent_before < instances.len(),
        "killed too late to test anything"
    );
    // Restart: the new uploader takes the lock the dead one held and resumes.
    let mut up = Uploader::new(outbox.clone(), "pacs", dimse(&orthanc), fast_policy()).unwrap();
    let r = up.run(None, &roboct_core::NoProgress).unwrap();
    assert!(
        r.sent <= instances.len() - sent_before + 1,
        "resent what was confirmed: {r:?}"
    );
    drop(up);
    assert_all_arrived(&orthanc, &instances);
    assert!(
        outbox
            .records("pacs")
            .unwrap()
            .iter()
            .all(|r| r.state == ItemState::Sent)
    );
}

#[test]
fn refusals_are_kept_as_failed_and_reported() {
    // Orthanc that does not know our AE title refuses the association: transient (it may be
    // configured later), the instance stays pending with the reason.
    let tmp = tempfile::tempdir().unwrap();
    let orthanc = Orthanc::start();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let inst = series(8, 1);
    outbox.enqueue("pacs", &inst[0].bytes).unwrap();
    let stranger = roboct_dicom::dimse::AssociationOptions::new("STRANGER");
    let sender = Box::new(DimseSender::new(
        orthanc.peer(),
        stranger,
        roboct_dicom::part10::EXPLICIT_VR_LE,
    ));
    let mut up = Uploader::new(outbox.clone(), "pacs", sender, fast_policy()).unwrap();
    let r = up
        .run(
            Some(Instant::now() + Duration::from_millis(500)),
            &roboct_core::NoProgress,
        )
        .unwrap();
    drop(up);
    assert_eq!((r.sent, r.pending), (0, 1));
    let err = r.last_transient_error.unwrap();
    assert!(err.contains("ORTHANC@127.0.0.1"), "{err}");
    let st = &outbox.status().unwrap()[0];
    assert_eq!(st.pending, 1);
    assert!(
        st.open_items[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("ORTHANC@")
    );
    assert!(st.open_items[0].attempts >= 1);
    // A PACS that answers a failure status for the data set: failed for good, not retried.
    // (A file whose SOP class says CT but whose pixel data is missing: Orthanc accepts any
    // parseable file, so use STOW-RS with a body that is not DICOM instead.)
    let mut s = stow(format!("{}/dicom-web", orthanc.url()));
    let junk = b"this is not a DICOM file".to_vec();
    let res = s.send_batch(&[roboct_dicom::send::Outgoing {
        sop_instance_uid: "1.2.3",
        bytes: &junk,
    }]);
    let e = res[0].clone().unwrap_err();
    assert!(e.message.contains("STOW-RS"), "{e}");
    // Wrong password: a clear message naming the cause, retried later (credentials may be fixed).
    let mut bad = StowSender::new(
        &format!("{}/dicom-web", orthanc.url()),
        HttpAuth::Basic {
            username: ORTHANC_USER.into(),
            password: CredentialSource::Value(Secret::new("wrong")),
        },
        None,
        Duration::from_secs(5),
        4,
    )
    .unwrap();
    let res = bad.send_batch(&[roboct_dicom::send::Outgoing {
        sop_instance_uid: &inst[0].sop_instance_uid,
        bytes: &inst[0].bytes,
    }]);
    let e = res[0].clone().unwrap_err();
    assert!(e.transient && e.message.contains("401"), "{e}");
    assert!(
        !e.message.contains("wrong"),
        "the password must not be printed"
    );
}

#[test]
fn pacs_closing_mid_transfer_is_retried_not_lost() {
    // A fake PACS that accepts TCP, reads a little and hangs up mid-association.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 64];
            let _ = std::io::Read::read(&mut s, &mut buf);
            drop(s);
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let inst = series(8, 2);
    for i in &inst {
        outbox.enqueue("pacs", &i.bytes).unwrap();
    }
    let peer = roboct_dicom::dimse::Peer {
        ae_title: "FLAKY".into(),
        host: "127.0.0.1".into(),
        port,
    };
    let sender = Box::new(DimseSender::new(
        peer,
        options(),
        roboct_dicom::part10::EXPLICIT_VR_LE,
    ));
    let mut up = Uploader::new(outbox.clone(), "pacs", sender, fast_policy()).unwrap();
    let r = up
        .run(
            Some(Instant::now() + Duration::from_millis(400)),
            &roboct_core::NoProgress,
        )
        .unwrap();
    drop(up);
    t.join().unwrap();
    assert_eq!((r.sent, r.pending, r.failed.len()), (0, 2, 0), "{r:?}");
    assert!(r.last_transient_error.unwrap().contains("FLAKY"));
}

/// A CA and a server certificate for 127.0.0.1 signed by it, made with the openssl CLI.
fn make_certificates(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is not installed: run ./scripts/deps");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=roboct test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    (dir.join("ca.pem"), dir.join("server.pem"))
}

#[test]
fn stow_over_tls_refuses_an_untrusted_certificate_and_trusts_the_configured_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, server) = make_certificates(tmp.path());
    let orthanc = Orthanc::start();
    let tls_port = free_port();
    let _proxy = Proc::spawn(
        "TLS proxy",
        Command::new(python())
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls_proxy.py"))
            .arg(tls_port.to_string())
            .arg(orthanc.http_port.to_string())
            .arg(&server)
            .arg(tmp.path().join("server.key")),
    );
    wait_port(tls_port, "TLS proxy");
    let url = format!("https://127.0.0.1:{tls_port}/dicom-web");
    let inst = series(8, 2);
    let out: Vec<_> = inst
        .iter()
        .map(|i| roboct_dicom::send::Outgoing {
            sop_instance_uid: &i.sop_instance_uid,
            bytes: &i.bytes,
        })
        .collect();
    let auth = HttpAuth::Basic {
        username: ORTHANC_USER.into(),
        password: CredentialSource::Value(Secret::new(ORTHANC_PASSWORD)),
    };
    // Not trusted: a clear, retryable error that names the certificate problem.
    let mut untrusted =
        StowSender::new(&url, auth.clone(), None, Duration::from_secs(5), 8).unwrap();
    let res = untrusted.send_batch(&out);
    let e = res[0].clone().unwrap_err();
    assert!(e.transient, "{e}");
    assert!(e.message.to_lowercase().contains("certificate"), "{e}");
    // The hospital CA configured: stored.
    let pem = std::fs::read(&ca).unwrap();
    let mut trusted = StowSender::new(&url, auth, Some(&pem), Duration::from_secs(5), 8).unwrap();
    for r in trusted.send_batch(&out) {
        r.unwrap();
    }
    assert_all_arrived(&orthanc, &inst);
}

#[test]
fn c_store_failure_statuses_retry_or_fail_per_instance() {
    let tmp = tempfile::tempdir().unwrap();
    let received = tmp.path().join("received");
    std::fs::create_dir(&received).unwrap();
    let inst = series(8, 4);
    let port = free_port();
    let _scp = Proc::spawn(
        "pynetdicom storage SCP",
        Command::new(python())
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/store_scp.py"))
            .arg(port.to_string())
            .arg(&received)
            .arg("2")
            .arg(&inst[1].sop_instance_uid),
    );
    wait_port(port, "storage SCP");
    let outbox = Outbox::open(tmp.path().join("box")).unwrap();
    for i in &inst {
        outbox.enqueue("pacs", &i.bytes).unwrap();
    }
    let peer = roboct_dicom::dimse::Peer {
        ae_title: "STORE".into(),
        host: "127.0.0.1".into(),
        port,
    };
    let sender = Box::new(DimseSender::new(
        peer,
        options(),
        roboct_dicom::part10::EXPLICIT_VR_LE,
    ));
    let mut up = Uploader::new(outbox.clone(), "pacs", sender, fast_policy()).unwrap();
    let r = up
        .run(
            Some(Instant::now() + Duration::from_secs(20)),
            &roboct_core::NoProgress,
        )
        .unwrap();
    drop(up);
    // 0xA700 twice: retried after backoff, then stored; 0xA900: failed for good, with reason.
    assert_eq!((r.sent, r.pending, r.failed.len()), (3, 0, 1), "{r:?}");
    assert!(r.last_transient_error.unwrap().contains("0xA700"));
    assert_eq!(r.failed[0].0, inst[1].sop_instance_uid);
    assert!(r.failed[0].1.contains("0xA900"), "{}", r.failed[0].1);
    let rec = outbox
        .record("pacs", &inst[1].sop_instance_uid)
        .unwrap()
        .unwrap();
    assert_eq!(rec.state, ItemState::Failed);
    assert_eq!(rec.attempts, 1, "a permanent refusal is not retried");
    let head = outbox
        .record("pacs", &inst[0].sop_instance_uid)
        .unwrap()
        .unwrap();
    assert_eq!((head.state, head.attempts), (ItemState::Sent, 3));
    assert_eq!(std::fs::read_dir(&received).unwrap().count(), 3);
    // The operator requeues the refused one; it is refused again, and still not lost.
    assert_eq!(outbox.requeue_failed("pacs").unwrap(), 1);
    assert_eq!(outbox.status().unwrap()[0].pending, 1);
}

#[test]
fn stow_sends_a_bearer_token() {
    // A one-request HTTP server that checks the Authorization header and answers 200 with
    // the instance listed as stored.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inst = series(8, 1);
    let uid = inst[0].sop_instance_uid.clone();
    let server = std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Read, Write};
        let (s, _) = listener.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let (mut auth, mut len, mut ctype, mut line1) =
            (String::new(), 0usize, String::new(), String::new());
        r.read_line(&mut line1).unwrap();
        loop {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            let l = l.trim_end().to_string();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if lower.starts_with("authorization:") {
                auth = l["authorization:".len()..].trim().to_string();
            } else if lower.starts_with("content-length:") {
                len = l["content-length:".len()..].trim().parse().unwrap();
            } else if lower.starts_with("content-type:") {
                ctype = l["content-type:".len()..].trim().to_string();
            }
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).unwrap();
        let reply = format!(
            r#"{{"00081199":{{"vr":"SQ","Value":[{{"00081155":{{"vr":"UI","Value":["{uid}"]}}}}]}}}}"#
        );
        let mut s = s;
        write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .unwrap();
        (line1, auth, ctype, body)
    });
    let mut s = StowSender::new(
        &format!("http://127.0.0.1:{port}/dicom-web"),
        HttpAuth::Bearer(CredentialSource::Value(Secret::new("tok-123"))),
        None,
        Duration::from_secs(5),
        4,
    )
    .unwrap();
    let res = s.send_batch(&[roboct_dicom::send::Outgoing {
        sop_instance_uid: &inst[0].sop_instance_uid,
        bytes: &inst[0].bytes,
    }]);
    res[0].clone().unwrap();
    let (line1, auth, ctype, body) = server.join().unwrap();
    assert!(line1.starts_with("POST /dicom-web/studies "), "{line1}");
    assert_eq!(auth, "Bearer tok-123");
    assert!(
        ctype.starts_with("multipart/related; type=\"application/dicom\"; boundary="),
        "{ctype}"
    );
    // The part carries our file byte for byte.
    assert!(
        body.windows(inst[0].bytes.len())
            .any(|w| w == inst[0].bytes.as_slice())
    );
}

#[test]
fn streaming_while_another_uploader_holds_the_destination_only_queues() {
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let _other = outbox.lock("pacs").unwrap();
    let uids = UidGenerator::default();
    let w = writer(&uids);
    let g = grid(16, 6);
    let (tx, rx) = channel();
    for z0 in [0, 3] {
        tx.send(VolumeSlab {
            z_start: z0,
            data: Array3::zeros((3, 16, 16)),
            volume_grid: g.clone(),
        })
        .unwrap();
    }
    drop(tx);
    let nobody = roboct_dicom::dimse::Peer {
        ae_title: "NONE".into(),
        host: "127.0.0.1".into(),
        port: free_port(),
    };
    let r = stream_series(
        rx,
        &w,
        VoxelUnits::Hu,
        StreamTarget {
            outbox: outbox.clone(),
            destination: "pacs".into(),
            sender: Box::new(DimseSender::new(
                nobody,
                options(),
                roboct_dicom::part10::EXPLICIT_VR_LE,
            )),
            policy: fast_policy(),
            drain_timeout: Duration::from_secs(1),
        },
    )
    .unwrap();
    assert!(r.queued_for_other_uploader);
    assert_eq!(
        (r.instances.len(), r.upload.sent, r.upload.pending),
        (6, 0, 6)
    );
    assert_eq!(outbox.status().unwrap()[0].pending, 6);
}
