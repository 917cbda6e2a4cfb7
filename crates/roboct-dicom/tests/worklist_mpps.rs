//! Orders in and progress out, against real peers: dcmtk `wlmscpfs` and Orthanc's worklist
//! plugin for C-FIND, a pynetdicom MPPS SCP for N-CREATE/N-SET; plus the bad peers
//! (rejection, silence, malformed answers).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use roboct_core::units::{Mgy, MgyCm};
use roboct_dicom::dimse::{NetError, Peer};
use roboct_dicom::mpps::{PerformedSeries, StepEnd, StepResult, end_step, start_step};
use roboct_dicom::sr::{Code, CtIrradiationEvent, CtdiPhantom, DoseReport, ImageRef};
use roboct_dicom::study::StudyContext;
use roboct_dicom::uid::UidGenerator;
use roboct_dicom::worklist::{WorklistError, WorklistQuery, query_worklist};

const STUDY_UID: &str = "1.2.826.0.1.3680043.2.1125.1.1";

fn order_dump(
    patient_id: Option<&str>,
    station: &str,
    date: &str,
    sps: &str,
    study: &str,
) -> String {
    let pid = patient_id
        .map(|p| format!("(0010,0020) LO [{p}]\n"))
        .unwrap_or_default();
    format!(
        "(0008,0005) CS [ISO_IR 100]\n(0008,0050) SH [ACC-{sps}]\n(0008,0090) PN [HOUSE^GREGORY]\n\
(0010,0010) PN [DOE^JANE]\n{pid}(0010,0030) DA [19600101]\n(0010,0040) CS [F]\n\
(0020,000d) UI [{study}]\n(0032,1060) LO [CT HEAD]\n(0038,0300) LO [WARD 3 BED 12]\n\
(0040,1001) SH [RP-{sps}]\n(0040,0100) SQ (Sequence with explicit length #=1)\n\
(fffe,e000) na (Item with explicit length #=6)\n(0008,0060) CS [CT]\n(0040,0001) AE [{station}]\n\
(0040,0002) DA [{date}]\n(0040,0003) TM [090000]\n(0040,0007) LO [CT HEAD W/O]\n\
(0040,0009) SH [{sps}]\n(fffe,e00d) na (ItemDelimitationItem for re-encoding)\n\
(fffe,e0dd) na (SequenceDelimitationItem for re-encoding)\n"
    )
}

/// Writes the test orders as .wl files into `dir` (as dump2dcm makes them).
fn write_orders(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let orders = [
        (
            "a",
            order_dump(Some("PID-1"), "ROBOCT", "20261129", "SPS1", STUDY_UID),
        ),
        (
            "b",
            order_dump(Some("PID-2"), "OTHER", "20261129", "SPS2", "1.2.3.4.2"),
        ),
        (
            "c",
            order_dump(Some("PID-3"), "ROBOCT", "20261130", "SPS3", "1.2.3.4.3"),
        ),
        // Malformed: no Patient ID, and a Study Instance UID with a leading zero.
        (
            "d",
            order_dump(None, "ROBOCT", "20261129", "SPS4", "1.2.3.4.4"),
        ),
        (
            "e",
            order_dump(Some("PID-5"), "ROBOCT", "20261129", "SPS5", "1.2.03.5"),
        ),
    ];
    for (name, dump) in orders {
        let txt = dir.join(format!("{name}.dump"));
        std::fs::write(&txt, dump).unwrap();
        let st = Command::new("dump2dcm")
            .arg(&txt)
            .arg(dir.join(format!("{name}.wl")))
            .status()
            .expect("dump2dcm (dcmtk) is not installed");
        assert!(st.success());
        std::fs::remove_file(txt).unwrap();
    }
}

fn check_orders(peer: &Peer, returns_items_without_patient_id: bool) {
    let all_robot = query_worklist(
        peer,
        &options(),
        &WorklistQuery {
            station_ae_title: Some("ROBOCT".into()),
            date: Some("20261129".into()),
            modality: "CT".into(),
        },
    )
    .unwrap();
    assert_eq!(all_robot.items.len(), 1, "{all_robot:?}");
    let item = &all_robot.items[0];
    assert_eq!(item.patient.id.expose(), "PID-1");
    assert_eq!(item.patient.name.expose(), "DOE^JANE");
    assert_eq!(item.patient.birth_date.expose(), "19600101");
    assert_eq!(item.patient.sex, "F");
    assert_eq!(item.order.accession_number.expose(), "ACC-SPS1");
    assert_eq!(item.order.requested_procedure_id, "RP-SPS1");
    assert_eq!(item.order.requested_procedure_description, "CT HEAD");
    assert_eq!(item.step.id, "SPS1");
    assert_eq!(item.step.description, "CT HEAD W/O");
    assert_eq!(item.step.station_ae_title, "ROBOCT");
    assert_eq!(item.step.start_date, "20261129");
    assert_eq!(item.current_patient_location, "WARD 3 BED 12");
    assert_eq!(item.study_instance_uid, STUDY_UID);
    // The two malformed orders for this station and day are reported, not returned.
    // (wlmscpfs itself drops worklist files without a Patient ID; Orthanc passes them on.)
    let expected = if returns_items_without_patient_id {
        2
    } else {
        1
    };
    assert_eq!(
        all_robot.rejected.len(),
        expected,
        "{:?}",
        all_robot.rejected
    );
    let reasons: Vec<&str> = all_robot
        .rejected
        .iter()
        .map(|r| r.reason.as_str())
        .collect();
    assert!(
        !returns_items_without_patient_id
            || reasons.iter().any(|r| r.contains("Patient ID (0010,0020)")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("not a valid UID")),
        "{reasons:?}"
    );
    // No patient data in the reasons.
    assert!(!format!("{reasons:?}").contains("DOE"));
    // Any station, date range: three valid orders.
    let range = query_worklist(
        peer,
        &options(),
        &WorklistQuery {
            station_ae_title: None,
            date: Some("20261129-20261130".into()),
            modality: "CT".into(),
        },
    )
    .unwrap();
    assert_eq!(range.items.len(), 3);
}

#[test]
fn worklist_from_wlmscpfs() {
    let tmp = tempfile::tempdir().unwrap();
    let ae_dir = tmp.path().join("WLM");
    write_orders(&ae_dir);
    std::fs::write(ae_dir.join("lockfile"), b"").unwrap();
    let port = free_port();
    let _scp = spawn(
        "wlmscpfs",
        Command::new("wlmscpfs")
            .arg("-dfp")
            .arg(tmp.path())
            .arg(port.to_string())
            .env("TCP_NODELAY", "1"),
    );
    wait_port(port, "wlmscpfs");
    let peer = loopback_peer("WLM", port);
    check_orders(&peer, false);
    // wlmscpfs refuses a called AE title it has no folder for.
    let wrong = Peer {
        ae_title: "NOSUCHAE".into(),
        ..peer
    };
    let e = query_worklist(&wrong, &options(), &WorklistQuery::default()).unwrap_err();
    assert!(
        matches!(
            e,
            WorklistError::Net {
                source: NetError::Rejected { .. },
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("rejected"), "{e}");
}

#[test]
fn worklist_from_orthanc() {
    let mut orthanc = Orthanc::start();
    write_orders(&orthanc.dir.join("worklists"));
    check_orders(&orthanc.peer(), true);
    orthanc.proc.kill();
}

#[test]
fn silent_and_absent_worklist_peers_fail_clearly() {
    // A peer that accepts TCP and never answers: a timeout, not a hang.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // It holds the connection until the query has returned: the only way out is our own
    // timeout. (After a minute it lets go, so a hang fails the test as `Closed`.)
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let _ = done_rx.recv_timeout(Duration::from_secs(60));
        drop(s);
    });
    let peer = loopback_peer("SILENT", port);
    let opts = options().dimse_timeout(Duration::from_millis(500));
    let e = query_worklist(&peer, &opts, &WorklistQuery::default()).unwrap_err();
    done_tx.send(()).unwrap();
    holder.join().unwrap();
    assert!(
        matches!(
            e,
            WorklistError::Net {
                source: NetError::Timeout { .. },
                ..
            }
        ),
        "{e:?}"
    );
    // Nobody listening: a connection error naming the peer.
    let closed = loopback_peer("NONE", free_port());
    let e = query_worklist(&closed, &options(), &WorklistQuery::default()).unwrap_err();
    assert!(e.to_string().contains("NONE@127.0.0.1"), "{e}");
    // Bad query values are refused before any network traffic.
    let e = query_worklist(
        &closed,
        &options(),
        &WorklistQuery {
            date: Some("29/11/2026".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("29/11/2026"), "{e}");
}

struct MppsScp {
    _proc: Proc,
    out: tempfile::TempDir,
    peer: Peer,
}

fn start_mpps_scp() -> MppsScp {
    let out = tempfile::tempdir().unwrap();
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mpps_scp.py");
    let proc = spawn(
        "pynetdicom MPPS SCP",
        Command::new(python())
            .arg(script)
            .arg(port.to_string())
            .arg(out.path()),
    );
    wait_port(port, "MPPS SCP");
    MppsScp {
        _proc: proc,
        out,
        peer: loopback_peer("MPPS", port),
    }
}

fn received(dir: &Path) -> Vec<(String, serde_json::Value)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let ds: serde_json::Value =
                serde_json::from_str(v["dataset"].to_string().as_str()).unwrap();
            (name, ds)
        })
        .collect()
}

fn value(ds: &serde_json::Value, tag: &str) -> String {
    ds[tag]["Value"][0].as_str().unwrap_or_default().to_string()
}

fn dose(uids: &UidGenerator) -> DoseReport {
    DoseReport {
        events: vec![CtIrradiationEvent {
            protocol: "Head".into(),
            target_region: Code::new("69536005", "SCT", "Head"),
            event_uid: uids.generate(),
            is_scout: false,
            exposure_time_s: 1.0,
            scanning_length_mm: 150.0,
            single_collimation_mm: 0.5,
            total_collimation_mm: 40.0,
            kvp: 120.0,
            max_tube_current_ma: 200.0,
            tube_current_ma: 150.0,
            rotation_time_s: 1.0,
            ctdi_vol: Mgy(45.5),
            dlp: MgyCm(682.5),
            phantom: CtdiPhantom::Head16,
        }],
    }
}

#[test]
fn mpps_in_progress_then_completed_with_series_and_dose() {
    let scp = start_mpps_scp();
    let uids = UidGenerator::default();
    let mut study = StudyContext::unscheduled(&uids);
    study.patient.id = roboct_core::Phi::new("PID-1".into());
    let step = start_step(&scp.peer, &options(), &study, &uids).unwrap();
    let images: Vec<ImageRef> = (0..3)
        .map(|_| ImageRef {
            sop_class_uid: roboct_dicom::ct::CT_IMAGE_STORAGE.into(),
            sop_instance_uid: uids.generate(),
            series_instance_uid: "1.2.3".into(),
        })
        .collect();
    let dose_sr = ImageRef {
        sop_class_uid: roboct_dicom::sr::XRAY_RADIATION_DOSE_SR.into(),
        sop_instance_uid: uids.generate(),
        series_instance_uid: "1.2.4".into(),
    };
    let result = StepResult {
        end: StepEnd::Completed,
        series: vec![
            PerformedSeries {
                series_instance_uid: "1.2.3".into(),
                description: "AXIAL".into(),
                protocol_name: "HEAD".into(),
                retrieve_ae_title: "ORTHANC".into(),
                instances: images.clone(),
            },
            PerformedSeries {
                series_instance_uid: "1.2.4".into(),
                description: "Dose Report".into(),
                protocol_name: "HEAD".into(),
                retrieve_ae_title: "ORTHANC".into(),
                instances: vec![dose_sr.clone()],
            },
        ],
        dose: Some(dose(&uids)),
    };
    end_step(&scp.peer, &options(), &step, &result).unwrap();
    let got = received(scp.out.path());
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].0.ends_with("create.json"));
    assert_eq!(value(&got[0].1, "00400252"), "IN PROGRESS");
    assert_eq!(value(&got[0].1, "00100020"), "PID-1");
    assert_eq!(value(&got[0].1, "00080060"), "CT");
    assert_eq!(value(&got[0].1, "00400241"), OUR_AE);
    assert!(got[1].0.ends_with("set.json"));
    assert_eq!(value(&got[1].1, "00400252"), "COMPLETED");
    let series = got[1].1["00400340"]["Value"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    let refs = series[0]["00081140"]["Value"].as_array().unwrap();
    assert_eq!(refs.len(), 3);
    assert_eq!(value(&refs[2], "00081155"), images[2].sop_instance_uid);
    let non_image = series[1]["00400220"]["Value"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", series[1]));
    assert_eq!(value(&non_image[0], "00081155"), dose_sr.sop_instance_uid);
    assert!(value(&got[1].1, "00400310").contains("CTDIvol 45.5 mGy"));
    // The SCP refuses a second final N-SET: a failure status, reported as such.
    let e = end_step(&scp.peer, &options(), &step, &result).unwrap_err();
    assert!(e.to_string().contains("0x0110"), "{e}");
}

#[test]
fn mpps_discontinued_with_reason_and_unknown_step_refused() {
    let scp = start_mpps_scp();
    let uids = UidGenerator::default();
    let study = StudyContext::unscheduled(&uids);
    let step = start_step(&scp.peer, &options(), &study, &uids).unwrap();
    let result = StepResult {
        end: StepEnd::Discontinued(Code::new(
            "110503",
            "DCM",
            "Patient condition prevented continuing",
        )),
        series: vec![],
        dose: None,
    };
    end_step(&scp.peer, &options(), &step, &result).unwrap();
    let got = received(scp.out.path());
    assert_eq!(value(&got[1].1, "00400252"), "DISCONTINUED");
    let reason = &got[1].1["00400281"]["Value"][0];
    assert_eq!(value(reason, "00080100"), "110503");
    let unknown = roboct_dicom::mpps::PerformedStep {
        sop_instance_uid: uids.generate(),
        id: "X".into(),
        utc_offset: roboct_dicom::study::UtcOffset::UTC,
    };
    let e = end_step(&scp.peer, &options(), &unknown, &result).unwrap_err();
    assert!(e.to_string().contains("0x0112"), "{e}");
}
