//! The embedded SCP (`roboct_dicom::scp`) against real peers on loopback: dcmtk `echoscu` and
//! `storescu`, the crate's own uploader (C-STORE through the durable outbox) and MPPS SCU, a
//! wrong called AE title, data sets it must refuse, a disk it cannot write, two associations
//! at once, and a shutdown (and a drop) with associations still open, bounded in time.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

use common::*;
use roboct_dicom::ct::{CT_IMAGE_STORAGE, CtSeriesInfo, CtSeriesWriter, Instance, VoxelUnits};
use roboct_dicom::dimse::{Association, NetError, Peer, ProposedContext, Status, VERIFICATION};
use roboct_dicom::mpps::{
    MppsError, PerformedSeries, PerformedStep, StepEnd, StepResult, end_step, start_step,
};
use roboct_dicom::outbox::Outbox;
use roboct_dicom::part10::{
    DEFLATED_EXPLICIT_VR_LE, EXPLICIT_VR_LE, IMPLICIT_VR_LE, decode_part10, encode_part10,
    read_part10_info,
};
use roboct_dicom::scp::{MppsOperation, Scp, ScpEvent, ScpOptions, StoredInstance};
use roboct_dicom::sr::{
    COMPREHENSIVE_SR, FindingsReport, ImageRef, KEY_OBJECT_SELECTION, ReportWriter,
};
use roboct_dicom::study::StudyContext;
use roboct_dicom::uid::UidGenerator;
use roboct_geometry::Volume;

const PACS_AE: &str = "TEST-PACS";

/// An SCP on a free loopback port, storing into a fresh temp dir.
fn start() -> (Scp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let scp = Scp::bind(
        "127.0.0.1:0",
        ScpOptions::new(PACS_AE, dir.path().join("pacs")),
    )
    .unwrap();
    assert_ne!(scp.local_addr().port(), 0);
    (scp, dir)
}

/// Runs `f` on its own thread and fails the test if it takes longer than `limit`: a hang in
/// the SCP must fail, not stall the suite.
fn within<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not finish within {limit:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

fn stored(scp: &Scp) -> Vec<StoredInstance> {
    scp.events()
        .into_iter()
        .filter_map(|e| match e {
            ScpEvent::Stored(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// Every `.dcm` file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "dcm") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A CT series of `n` slices and, in the same study, a findings SR and a key object
/// selection that points at its middle slice.
fn study_objects(n: usize) -> Vec<Instance> {
    let uids = UidGenerator::default();
    let mut study = StudyContext::unscheduled(&uids);
    study.patient.name = roboct_core::Phi::new("DOE^SCP".into());
    let data = ndarray::Array3::from_shape_fn((n, 16, 16), |(z, y, x)| (z * 5 + y + x) as f32);
    let volume = Volume::from_array(grid(16, n), data).unwrap();
    let writer = CtSeriesWriter::new(study.clone(), CtSeriesInfo::new(&uids), uids.clone());
    let mut all = writer.volume(&volume, VoxelUnits::Hu).unwrap();
    let reports = ReportWriter::new(study, uids);
    let key: Vec<ImageRef> = vec![(&all[n / 2]).into()];
    let findings = reports
        .findings_report(&FindingsReport {
            procedure: "CT head".into(),
            ..Default::default()
        })
        .unwrap();
    let ko = reports.key_images(&key, "Test").unwrap();
    all.push(findings);
    all.push(ko);
    all
}

/// The same object in another transfer syntax.
fn transcoded(i: &Instance, ts: &str) -> Instance {
    let (_, obj) = decode_part10(&i.bytes).unwrap();
    Instance {
        bytes: encode_part10(&obj, ts).unwrap(),
        ..i.clone()
    }
}

/// The file the SCP must have written for `i`, read after checking its place and meta group.
fn check_stored(scp: &Scp, i: &Instance, ts: &str) -> Vec<u8> {
    let (_, obj) = decode_part10(&i.bytes).unwrap();
    let text = |tag| {
        obj.element(tag)
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches('\0')
            .to_string()
    };
    let study = text(dicom_dictionary_std::tags::STUDY_INSTANCE_UID);
    let series = text(dicom_dictionary_std::tags::SERIES_INSTANCE_UID);
    let path = scp
        .storage_dir()
        .join(&study)
        .join(&series)
        .join(format!("{}.dcm", i.sop_instance_uid));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let info = read_part10_info(&bytes).unwrap();
    assert_eq!(info.sop_class_uid, i.sop_class_uid);
    assert_eq!(info.sop_instance_uid, i.sop_instance_uid);
    assert_eq!(info.transfer_syntax_uid, ts);
    let event = stored(scp)
        .into_iter()
        .rfind(|s| s.sop_instance_uid == i.sop_instance_uid)
        .expect("a Stored event");
    assert_eq!(event.path, path);
    assert_eq!(
        (
            event.study_instance_uid.as_str(),
            event.series_instance_uid.as_str()
        ),
        (study.as_str(), series.as_str())
    );
    assert_eq!(event.transfer_syntax_uid, ts);
    bytes
}

fn write_files(dir: &Path, instances: &[Instance]) -> Vec<PathBuf> {
    instances
        .iter()
        .enumerate()
        .map(|(k, i)| {
            let p = dir.join(format!("{k:03}.dcm"));
            std::fs::write(&p, &i.bytes).unwrap();
            p
        })
        .collect()
}

fn dcmtk(tool: &str, peer: &Peer, called_ae: &str, extra: &[&str]) -> std::process::Output {
    Command::new(tool)
        .args(["-aet", OUR_AE, "-aec", called_ae])
        .args(extra)
        .arg(&peer.host)
        .arg(peer.port.to_string())
        .env("TCP_NODELAY", "1")
        .output()
        .unwrap_or_else(|e| panic!("{tool} (dcmtk) is not installed: {e}"))
}

#[test]
fn dcmtk_echoscu_and_storescu_store_byte_equal_files() {
    let (scp, tmp) = start();
    let peer = scp.peer();
    let out = dcmtk("echoscu", &peer, PACS_AE, &[]);
    assert!(out.status.success(), "echoscu: {:?}", out);

    let objects = study_objects(3);
    let files = write_files(tmp.path(), &objects);
    let mut args: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
    args.insert(0, "-v");
    let out = Command::new("storescu")
        .args([
            "-aet",
            OUR_AE,
            "-aec",
            PACS_AE,
            &peer.host,
            &peer.port.to_string(),
        ])
        .args(&args)
        .env("TCP_NODELAY", "1")
        .output()
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !log.contains("E:"),
        "storescu: {log}"
    );
    let events = stored(&scp);
    assert_eq!(events.len(), objects.len(), "{events:#?}");
    assert!(
        events
            .iter()
            .all(|e| !e.duplicate && e.calling_ae_title == OUR_AE)
    );
    let classes: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e.sop_class_uid.as_str()).collect();
    assert_eq!(
        classes,
        [CT_IMAGE_STORAGE, COMPREHENSIVE_SR, KEY_OBJECT_SELECTION].into()
    );
    for i in &objects {
        let file = check_stored(&scp, i, EXPLICIT_VR_LE);
        assert!(
            dataset_bytes(&file) == dataset_bytes(&i.bytes),
            "{}: stored data set differs from the one sent",
            i.sop_instance_uid
        );
        let path = &stored(&scp)
            .into_iter()
            .find(|s| s.sop_instance_uid == i.sop_instance_uid)
            .unwrap()
            .path;
        let dump = dcmdump(path);
        assert!(dump.contains(&i.sop_instance_uid), "{dump}");
        assert!(
            dump.contains(&format!("[{OUR_AE}]")),
            "Source AE Title: {dump}"
        );
    }
    assert_eq!(files_under(scp.storage_dir()).len(), objects.len());

    // The same files again, implicit VR only: stored again (success, marked duplicate), now in
    // implicit VR, with the same data.
    let out = Command::new("storescu")
        .args([
            "-xi",
            "-aet",
            OUR_AE,
            "-aec",
            PACS_AE,
            &peer.host,
            &peer.port.to_string(),
        ])
        .args(&args[1..])
        .env("TCP_NODELAY", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "storescu -xi: {out:?}");
    let events = stored(&scp);
    assert_eq!(events.len(), 2 * objects.len());
    assert!(events[objects.len()..].iter().all(|e| e.duplicate));
    for i in &objects {
        let file = check_stored(&scp, i, IMPLICIT_VR_LE);
        let (_, got) = decode_part10(&file).unwrap();
        let (_, want) = decode_part10(&i.bytes).unwrap();
        assert_eq!(
            roboct_dicom::part10::encode_dataset(&got, EXPLICIT_VR_LE).unwrap(),
            roboct_dicom::part10::encode_dataset(&want, EXPLICIT_VR_LE).unwrap()
        );
    }
    assert_eq!(files_under(scp.storage_dir()).len(), objects.len());
    // No temporary file left behind.
    let mut stack = vec![scp.storage_dir().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            assert!(!p.file_name().unwrap().to_string_lossy().starts_with(".tmp"));
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
}

#[test]
fn wrong_called_ae_title_is_rejected() {
    let (scp, _tmp) = start();
    let wrong = Peer {
        ae_title: "NOT-THE-PACS".into(),
        ..scp.peer()
    };
    let e = roboct_dicom::dimse::echo(&wrong, &options()).unwrap_err();
    assert!(
        matches!(&e, NetError::Rejected { permanent: true, reason, .. } if reason.contains("called AE title")),
        "{e}"
    );
    assert!(e.is_configuration());
    let out = dcmtk("echoscu", &scp.peer(), "ALSO-WRONG", &[]);
    assert!(
        !out.status.success(),
        "echoscu with a wrong AE title succeeded"
    );
    // The right title still works, and both refusals were recorded.
    roboct_dicom::dimse::echo(&scp.peer(), &options()).unwrap();
    let rejected: Vec<(String, String)> = scp
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ScpEvent::AssociationRejected {
                calling_ae_title,
                called_ae_title,
            } => Some((calling_ae_title, called_ae_title)),
            _ => None,
        })
        .collect();
    assert_eq!(
        rejected,
        [
            (OUR_AE.to_string(), "NOT-THE-PACS".to_string()),
            (OUR_AE.to_string(), "ALSO-WRONG".to_string())
        ]
    );
}

#[test]
fn uploader_stores_every_instance_through_the_outbox() {
    let (scp, tmp) = start();
    let objects = study_objects(4);
    // Half the series deflated: the sender proposes the file's own syntax, the SCP accepts it
    // and the deflated bytes are filed unchanged.
    let objects: Vec<Instance> = objects
        .iter()
        .enumerate()
        .map(|(k, i)| {
            if k % 2 == 1 {
                transcoded(i, DEFLATED_EXPLICIT_VR_LE)
            } else {
                i.clone()
            }
        })
        .collect();
    let outbox = Outbox::open(tmp.path().join("outbox")).unwrap();
    let uids = enqueue_all(&outbox, &objects);
    assert_eq!(uids.len(), objects.len());
    let mut up = pacs_uploader(&outbox, dimse_to(scp.peer()));
    let r = up.run(None, &roboct_core::NoProgress).unwrap();
    assert_eq!(
        (r.sent, r.pending, r.failed.len()),
        (objects.len(), 0, 0),
        "{r:?}"
    );
    for i in &objects {
        let ts = read_part10_info(&i.bytes).unwrap().transfer_syntax_uid;
        let file = check_stored(&scp, i, &ts);
        let (want, got) = (
            read_part10_info(&i.bytes).unwrap(),
            read_part10_info(&file).unwrap(),
        );
        assert!(
            file[got.dataset_offset..] == i.bytes[want.dataset_offset..],
            "{} ({ts}): stored data set bytes differ from the outbox's",
            i.sop_instance_uid
        );
        dcmdump(
            &stored(&scp)
                .into_iter()
                .find(|s| s.sop_instance_uid == i.sop_instance_uid)
                .unwrap()
                .path,
        );
    }
    // A resend of a stored instance (a crash swallowed the answer) is stored again.
    let mut sender = dimse_to(scp.peer());
    let again = roboct_dicom::send::Outgoing {
        sop_instance_uid: &objects[0].sop_instance_uid,
        bytes: &objects[0].bytes,
    };
    assert_eq!(sender.send_batch(&[again]), vec![Ok(())]);
    sender.close();
    let last = stored(&scp).pop().unwrap();
    assert!(last.duplicate && last.sop_instance_uid == objects[0].sop_instance_uid);
    assert_eq!(files_under(scp.storage_dir()).len(), objects.len());
}

#[test]
fn mpps_create_and_set_through_the_scu() {
    let (scp, _tmp) = start();
    let peer = scp.peer();
    let uids = UidGenerator::default();
    let mut study = StudyContext::unscheduled(&uids);
    study.patient.name = roboct_core::Phi::new("DOE^MPPS".into());
    let step = start_step(&peer, &options(), &study, &uids).unwrap();
    let path = scp
        .storage_dir()
        .join("mpps")
        .join(format!("{}.dcm", step.sop_instance_uid));
    assert!(dcmdump(&path).contains("IN PROGRESS"));

    let slices = series(8, 2);
    let result = StepResult {
        end: StepEnd::Completed,
        series: vec![PerformedSeries {
            series_instance_uid: slices[0].series_instance_uid.clone(),
            description: "Head".into(),
            protocol_name: "Head".into(),
            retrieve_ae_title: PACS_AE.into(),
            instances: slices.iter().map(ImageRef::from).collect(),
        }],
        dose: None,
    };
    end_step(&peer, &options(), &step, &result).unwrap();
    let (_, obj) = decode_part10(&std::fs::read(&path).unwrap()).unwrap();
    let text = |tag| {
        obj.element(tag)
            .unwrap()
            .to_str()
            .unwrap()
            .trim()
            .to_string()
    };
    use dicom_dictionary_std::tags;
    assert_eq!(text(tags::PERFORMED_PROCEDURE_STEP_STATUS), "COMPLETED");
    assert_eq!(
        text(tags::PATIENT_NAME),
        "DOE^MPPS",
        "N-CREATE attributes kept"
    );
    assert_eq!(text(tags::PERFORMED_PROCEDURE_STEP_ID), step.id);
    let performed = obj.element(tags::PERFORMED_SERIES_SEQUENCE).unwrap();
    assert_eq!(performed.items().unwrap().len(), 1);
    let updates: Vec<(MppsOperation, String, PathBuf)> = scp
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ScpEvent::Mpps(u) => {
                assert_eq!(u.sop_instance_uid, step.sop_instance_uid);
                Some((u.operation, u.status, u.path))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        updates,
        [
            (MppsOperation::Created, "IN PROGRESS".into(), path.clone()),
            (MppsOperation::Set, "COMPLETED".into(), path.clone())
        ]
    );

    // A completed step may not be set again; an unknown one does not exist; a second
    // N-CREATE of the same instance is a duplicate.
    let status_of = |e: MppsError| match e {
        MppsError::Net {
            source: NetError::Failed { status, .. },
            ..
        } => status,
        other => panic!("expected a failure status, got {other}"),
    };
    let e = end_step(&peer, &options(), &step, &result).unwrap_err();
    assert_eq!(status_of(e), Status(0x0110));
    let unknown = PerformedStep {
        sop_instance_uid: uids.generate(),
        ..step.clone()
    };
    let e = end_step(&peer, &options(), &unknown, &result).unwrap_err();
    assert_eq!(status_of(e), Status(0x0112));
    assert!(
        !scp.storage_dir()
            .join("mpps")
            .join(format!("{}.dcm", unknown.sop_instance_uid))
            .exists()
    );
    let mut a = Association::open(
        &peer,
        &options(),
        &[ProposedContext::new(
            roboct_dicom::mpps::MPPS_SOP_CLASS,
            &[EXPLICIT_VR_LE],
        )],
    )
    .unwrap();
    let attrs = roboct_dicom::mpps::create_attributes(&study, "X", OUR_AE);
    let bytes = roboct_dicom::part10::encode_dataset(&attrs, EXPLICIT_VR_LE).unwrap();
    let pc = a.accepted()[0].id;
    let e = a
        .n_create(
            pc,
            roboct_dicom::mpps::MPPS_SOP_CLASS,
            &step.sop_instance_uid,
            &bytes,
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            NetError::Failed {
                status: Status(0x0111),
                ..
            }
        ),
        "{e}"
    );
    a.release().unwrap();
    let refused: Vec<(&str, Status)> = scp
        .events()
        .iter()
        .filter_map(|e| match e {
            ScpEvent::Refused {
                operation, status, ..
            } => Some((*operation, *status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        [
            ("N-SET", Status(0x0110)),
            ("N-SET", Status(0x0112)),
            ("N-CREATE", Status(0x0111))
        ]
    );
}

/// An association for CT storage (explicit VR LE) and verification.
fn ct_association(peer: &Peer) -> Association {
    Association::open(
        peer,
        &options(),
        &[
            ProposedContext::new(CT_IMAGE_STORAGE, &[EXPLICIT_VR_LE]),
            ProposedContext::new(VERIFICATION, &[IMPLICIT_VR_LE]),
        ],
    )
    .unwrap()
}

fn store(a: &mut Association, i: &Instance) -> Result<Status, NetError> {
    let pc = a
        .context_for(CT_IMAGE_STORAGE, &[EXPLICIT_VR_LE])
        .unwrap()
        .id;
    let info = read_part10_info(&i.bytes).unwrap();
    a.c_store(
        pc,
        &i.sop_class_uid,
        &i.sop_instance_uid,
        &i.bytes[info.dataset_offset..],
    )
}

#[test]
fn bad_data_sets_and_a_full_disk_get_failure_statuses() {
    let (scp, _tmp) = start();
    let slices = series(16, 3);
    let mut a = ct_association(&scp.peer());
    let failed = |r: Result<Status, NetError>| match r {
        Err(NetError::Failed { status, .. }) => status,
        other => panic!("expected a failure status, got {other:?}"),
    };
    // Cut inside the pixel data: does not parse.
    let pc = a.context_for(CT_IMAGE_STORAGE, &[]).unwrap().id;
    let info = read_part10_info(&slices[0].bytes).unwrap();
    let data = &slices[0].bytes[info.dataset_offset..];
    let cut = &data[..data.len() - 100];
    let s = failed(a.c_store(pc, CT_IMAGE_STORAGE, &slices[0].sop_instance_uid, cut));
    assert_eq!(s, Status(0xC000));
    // The command names another instance than the data set.
    let s = failed(a.c_store(pc, CT_IMAGE_STORAGE, "1.2.3.4", data));
    assert_eq!(s, Status(0xC002));
    // The association survives refusals: the good one is stored.
    assert_eq!(store(&mut a, &slices[0]).unwrap(), Status(0));
    // A file where the study folder must go: the disk "cannot" store: out of resources,
    // which senders retry.
    let other_study = series(16, 1);
    let (_, obj) = decode_part10(&other_study[0].bytes).unwrap();
    let study_uid = obj
        .element(dicom_dictionary_std::tags::STUDY_INSTANCE_UID)
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches('\0')
        .to_string();
    std::fs::write(scp.storage_dir().join(&study_uid), b"in the way").unwrap();
    let s = failed(store(&mut a, &other_study[0]));
    assert_eq!(s, Status(0xA700));
    assert!(s.is_transient_failure());
    a.echo().unwrap();
    a.release().unwrap();
    assert_eq!(files_under(scp.storage_dir()).len(), 1);
    let refused: Vec<(Option<String>, Status)> = scp
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ScpEvent::Refused {
                operation: "C-STORE",
                sop_instance_uid,
                status,
                ..
            } => Some((sop_instance_uid, status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        [
            (Some(slices[0].sop_instance_uid.clone()), Status(0xC000)),
            (Some("1.2.3.4".into()), Status(0xC002)),
            (
                Some(other_study[0].sop_instance_uid.clone()),
                Status(0xA700)
            ),
        ]
    );
}

#[test]
fn two_associations_at_once_then_drop_with_one_open() {
    let (scp, _tmp) = start();
    let slices = series(16, 4);
    // Both open before either stores: an SCP serving one association at a time would leave
    // the second waiting for its A-ASSOCIATE-AC until the options' timeout.
    let peer = scp.peer();
    let (mut a, mut b) = within("two associations", Duration::from_secs(30), move || {
        let mut a = ct_association(&peer);
        a.echo().unwrap();
        let mut b = ct_association(&peer);
        b.echo().unwrap();
        (a, b)
    });
    assert_eq!(store(&mut b, &slices[0]).unwrap(), Status(0));
    assert_eq!(store(&mut a, &slices[1]).unwrap(), Status(0));
    assert_eq!(store(&mut b, &slices[2]).unwrap(), Status(0));
    a.release().unwrap();
    assert_eq!(store(&mut b, &slices[3]).unwrap(), Status(0));
    assert_eq!(stored(&scp).len(), 4);
    // Dropping the SCP with `b` still open: no hang, `b` is aborted.
    within("dropping the SCP", Duration::from_secs(20), move || {
        drop(scp)
    });
    let e = b.echo().unwrap_err();
    assert!(e.is_transient(), "{e}");
}

#[test]
fn shutdown_with_open_associations_does_not_hang() {
    let (mut scp, _tmp) = start();
    let peer = scp.peer();
    let mut a = ct_association(&peer);
    a.echo().unwrap();
    // A caller that connected and says nothing (the SCP waits for its A-ASSOCIATE-RQ).
    let silent = TcpStream::connect(("127.0.0.1", peer.port)).unwrap();
    let scp = within("shutdown", Duration::from_secs(20), move || {
        scp.shutdown();
        scp
    });
    let e = a.echo().unwrap_err();
    assert!(
        matches!(e, NetError::Closed { .. } | NetError::AbortedByPeer { .. }),
        "{e}"
    );
    drop(silent);
    // The listener is closed: nothing answers on the port any more.
    let e = roboct_dicom::dimse::echo(&peer, &options()).unwrap_err();
    assert!(matches!(e, NetError::Connect { .. }), "{e}");
    assert!(scp.events().is_empty());
}
