//! What goes wrong on the way to a PACS, and what each failure does: refusals fail only the
//! refused instance, configuration errors stop the run at once with everything kept,
//! transient failures (a PACS hanging up mid-transfer, a bad certificate) are retried, and a
//! resend answered "duplicate" counts as stored. No patient data from the peer's answers
//! reaches an error message.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use dicom_ul::association::server::ServerAssociationOptions;
use dicom_ul::pdu::{PDataValueType, Pdu};
use roboct_dicom::config::{CredentialSource, DicomConfig, HttpAuth, Secret};
use roboct_dicom::ct::CT_IMAGE_STORAGE;
use roboct_dicom::dimse::Peer;
use roboct_dicom::outbox::{ItemState, Outbox};
use roboct_dicom::part10::EXPLICIT_VR_LE;
use roboct_dicom::send::{Failure, Outgoing, SendError, StowSender, sender_for};
use roboct_dicom::upload::{UploadPolicy, Uploader};

fn outgoing(i: &roboct_dicom::ct::Instance) -> Outgoing<'_> {
    Outgoing {
        sop_instance_uid: &i.sop_instance_uid,
        bytes: &i.bytes,
    }
}

#[test]
fn a_rejected_ae_title_stops_the_run_at_once_and_keeps_everything() {
    let orthanc = Orthanc::start();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let inst = series(8, 3);
    enqueue_all(&outbox, &inst);
    let wrong = Peer {
        ae_title: "NOT-ORTHANC".into(),
        ..orthanc.peer()
    };
    let mut up = pacs_uploader(&outbox, dimse_to(wrong));
    // A far deadline: the run must end because of the error, not because of the clock.
    let r = up
        .run(
            Some(Instant::now() + Duration::from_secs(120)),
            &roboct_core::NoProgress,
        )
        .unwrap();
    drop(up);
    let why = r
        .configuration_error
        .clone()
        .expect("a configuration error");
    assert!(
        why.contains("called AE title not recognized") && why.contains("NOT-ORTHANC@"),
        "{why}"
    );
    assert_eq!((r.sent, r.pending, r.failed.len()), (0, 3, 0), "{r:?}");
    let recs = outbox.records("pacs").unwrap();
    assert!(recs.iter().all(|r| r.state == ItemState::Pending));
    assert_eq!(
        recs.iter().map(|r| r.attempts).collect::<Vec<_>>(),
        [1, 0, 0],
        "tried once, not retried"
    );
    assert!(recs[0].last_error.as_deref().unwrap().contains("AE title"));
    assert!(orthanc.receptions().is_empty());
}

#[test]
fn our_ae_title_unknown_to_the_pacs_stops_the_run_after_three_aborts() {
    let orthanc = Orthanc::start();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let inst = series(8, 2);
    enqueue_all(&outbox, &inst);
    // Orthanc knows only ROBOCT (`DicomModalities`): a scanner configured as another AE.
    let stranger = roboct_dicom::send::DimseSender::new(
        orthanc.peer(),
        roboct_dicom::dimse::AssociationOptions::new("STRANGER")
            .dimse_timeout(Duration::from_secs(10)),
        EXPLICIT_VR_LE,
    );
    let mut up = pacs_uploader(&outbox, Box::new(stranger));
    let r = up
        .run(
            Some(Instant::now() + Duration::from_secs(120)),
            &roboct_core::NoProgress,
        )
        .unwrap();
    drop(up);
    let why = r
        .configuration_error
        .clone()
        .unwrap_or_else(|| panic!("a configuration error: {r:?}"));
    // Orthanc accepts the association and aborts it at the first C-STORE: after three such
    // answers in a row the run stops and names our AE title.
    assert!(
        why.contains("aborted the association") && why.contains("our AE title STRANGER"),
        "{why}"
    );
    assert_eq!((r.sent, r.pending, r.failed.len()), (0, 2, 0), "{r:?}");
    let attempts: Vec<u32> = outbox
        .records("pacs")
        .unwrap()
        .iter()
        .map(|r| r.attempts)
        .collect();
    assert_eq!(attempts, [3, 0], "three tries of the first, then stopped");
    assert!(orthanc.receptions().is_empty());
}

/// A Part 10 file with a valid meta group and a data set that ends mid-element: the outbox
/// takes it (it reads the meta group only), a PACS cannot.
fn unreadable_instance(uid: &str) -> Vec<u8> {
    let good = &series(8, 1)[0].bytes;
    let info = roboct_dicom::part10::read_part10_info(good).unwrap();
    let mut meta = good[..info.dataset_offset].to_vec();
    // Swap the meta group's instance UID for ours (same length by construction).
    let old = info.sop_instance_uid.as_bytes();
    let at = meta.windows(old.len()).position(|w| w == old).unwrap();
    assert_eq!(uid.len(), old.len());
    meta[at..at + old.len()].copy_from_slice(uid.as_bytes());
    meta.extend_from_slice(b"\x08\x00\x18\x00UI\xff\x7fends here");
    meta
}

#[test]
fn stow_refusals_fail_only_the_refused_instance() {
    let orthanc = Orthanc::start();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let good = series(8, 2);
    let bad_uid = {
        let u = &good[0].sop_instance_uid;
        // A UID of the same length that differs in its last digit.
        let last = if u.ends_with('1') { '2' } else { '1' };
        format!("{}{last}", &u[..u.len() - 1])
    };
    outbox.enqueue("web", &good[0].bytes).unwrap();
    outbox
        .enqueue("web", &unreadable_instance(&bad_uid))
        .unwrap();
    outbox.enqueue("web", &good[1].bytes).unwrap();
    let sender = Box::new(stow_to(
        &format!("{}/dicom-web", orthanc.url()),
        orthanc_auth(),
    ));
    let mut up = Uploader::new(outbox.clone(), "web", sender, fast_policy()).unwrap();
    let r = up.run(None, &roboct_core::NoProgress).unwrap();
    drop(up);
    // One request for all three is refused as a whole (HTTP 400); asked again one by one,
    // the good ones are stored and only the unreadable one fails, for good.
    assert_eq!((r.sent, r.pending, r.failed.len()), (2, 0, 1), "{r:?}");
    assert_eq!(r.failed[0].0, bad_uid);
    assert!(
        r.failed[0].1.contains("400 Bad Request"),
        "{}",
        r.failed[0].1
    );
    let rec = outbox.record("web", &bad_uid).unwrap().unwrap();
    assert_eq!((rec.state, rec.attempts), (ItemState::Failed, 1));
    assert!(rec.last_error.unwrap().contains("HTTP 400"));
    // Orthanc read the good parts of the refused request before it refused it, so asking
    // again one by one is their second arrival (same UID, same bytes: one copy stored).
    let good_uids: Vec<&str> = good.iter().map(|g| g.sop_instance_uid.as_str()).collect();
    assert_arrived(&orthanc, &good, &good_uids);
    // Kept for the operator, who can put it back in the queue.
    assert_eq!(outbox.requeue_failed("web").unwrap(), 1);
    assert_eq!(outbox.status().unwrap()[0].pending, 1);
}

#[test]
fn wrong_or_missing_credentials_stop_the_run() {
    let orthanc = Orthanc::start();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let inst = series(8, 2);
    for i in &inst {
        outbox.enqueue("web", &i.bytes).unwrap();
    }
    // A wrong password: a clear message, no retry (an account could get locked), kept.
    let bad = HttpAuth::Basic {
        username: ORTHANC_USER.into(),
        password: CredentialSource::Value(Secret::new("wrong-pw")),
    };
    let sender = Box::new(stow_to(&format!("{}/dicom-web", orthanc.url()), bad));
    let mut up = Uploader::new(outbox.clone(), "web", sender, fast_policy()).unwrap();
    let r = up
        .run(
            Some(Instant::now() + Duration::from_secs(120)),
            &roboct_core::NoProgress,
        )
        .unwrap();
    drop(up);
    let why = r.configuration_error.expect("a configuration error");
    assert!(why.contains("401") && why.contains("credentials"), "{why}");
    assert!(
        !why.contains("wrong-pw"),
        "the password must not be printed"
    );
    assert_eq!((r.sent, r.pending), (0, 2));
    let attempts: Vec<u32> = outbox
        .records("web")
        .unwrap()
        .iter()
        .map(|r| r.attempts)
        .collect();
    assert_eq!(attempts, [1, 1], "one request, not retried");
    // A password variable that is not set: refused before anything is sent, named.
    let config = DicomConfig::parse(
        Path::new("pacs.toml"),
        "[station]\nae_title = \"ROBOCT\"\n[pacs.web]\ndicomweb_url = \"http://127.0.0.1:1/dicom-web\"\nusername = \"robot\"\npassword_env = \"ROBOCT_TEST_UNSET_PASSWORD_VAR\"\n",
    )
    .unwrap();
    let e = sender_for(config.pacs("web").unwrap(), "ROBOCT")
        .err()
        .expect("refused");
    assert_eq!(e.kind, Failure::Configuration);
    assert!(e.message.contains("ROBOCT_TEST_UNSET_PASSWORD_VAR"), "{e}");
    assert!(orthanc.receptions().is_empty());
}

/// A PACS that accepts the association (its maximum PDU small, so a slice takes several
/// P-DATA PDUs), takes the C-STORE command and the first part of the data set, and hangs up
/// without a word. Returns the data set bytes it got and whether the last fragment was
/// among them.
fn hang_up_mid_transfer(listener: TcpListener) -> std::thread::JoinHandle<(usize, bool)> {
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut assoc = ServerAssociationOptions::new()
            .accept_any()
            .ae_title("ORTHANC")
            .with_abstract_syntax(CT_IMAGE_STORAGE)
            .with_transfer_syntax(EXPLICIT_VR_LE)
            .max_pdu_length(4096)
            .establish(stream)
            .unwrap();
        let (mut data_bytes, mut saw_last) = (0, false);
        while data_bytes == 0 {
            match assoc.receive().unwrap() {
                Pdu::PData { data } => {
                    for v in data {
                        if v.value_type == PDataValueType::Data {
                            data_bytes += v.data.len();
                            saw_last |= v.is_last;
                        }
                    }
                }
                other => panic!("unexpected PDU {other:?}"),
            }
        }
        let _ = assoc.inner_stream().shutdown(std::net::Shutdown::Both);
        (data_bytes, saw_last)
    })
}

#[test]
fn pacs_closing_mid_transfer_is_retried_not_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = hang_up_mid_transfer(listener);
    let outbox = Outbox::open(tmp.path().join("box")).unwrap();
    let inst = series(64, 2);
    enqueue_all(&outbox, &inst);
    let peer = loopback_peer("ORTHANC", port);
    let mut up = pacs_uploader(&outbox, dimse_to(peer));
    assert_eq!(up.step().unwrap(), 0);
    let (got, saw_last) = fake.join().unwrap();
    assert!(
        got > 0 && got < 64 * 64 * 2 && !saw_last,
        "the PACS hung up mid-transfer ({got} bytes)"
    );
    let rec = outbox
        .record("pacs", &inst[0].sop_instance_uid)
        .unwrap()
        .unwrap();
    assert_eq!((rec.state, rec.attempts), (ItemState::Pending, 1));
    assert!(rec.last_error.is_some());
    // The PACS comes back on the same port: everything goes out, once.
    let orthanc = Orthanc::start_in(&tmp.path().join("pacs"), free_port(), port, None);
    let r = up.run(None, &roboct_core::NoProgress).unwrap();
    drop(up);
    assert_eq!((r.sent, r.pending, r.failed.len()), (2, 0, 0), "{r:?}");
    assert!(
        r.last_transient_error
            .unwrap()
            .contains("ORTHANC@127.0.0.1")
    );
    assert_all_arrived(&orthanc, &inst);
}

#[test]
fn pacs_hanging_up_during_association_setup_is_retried() {
    // A fake PACS that accepts TCP, reads part of the A-ASSOCIATE-RQ and hangs up.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf);
    });
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let inst = series(8, 2);
    enqueue_all(&outbox, &inst);
    let peer = loopback_peer("FLAKY", port);
    let mut up = pacs_uploader(&outbox, dimse_to(peer));
    assert_eq!(up.step().unwrap(), 0);
    let r = up.finish();
    drop(up);
    t.join().unwrap();
    assert_eq!((r.sent, r.pending, r.failed.len()), (0, 2, 0), "{r:?}");
    assert!(r.configuration_error.is_none());
    assert!(r.last_transient_error.unwrap().contains("FLAKY"));
}

/// A CA and a server certificate for 127.0.0.1 signed by it, made with the openssl CLI.
fn make_certificates(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
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
    let _proxy = spawn(
        "TLS proxy",
        Command::new(python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls_proxy.py"))
            .arg(tls_port.to_string())
            .arg(orthanc.http_port.to_string())
            .arg(&server)
            .arg(tmp.path().join("server.key")),
    );
    wait_port(tls_port, "TLS proxy");
    let url = format!("https://127.0.0.1:{tls_port}/dicom-web");
    let inst = series(8, 2);
    let out: Vec<_> = inst.iter().map(outgoing).collect();
    // Not trusted: a clear, retryable error that names the certificate problem.
    let mut untrusted = stow_to(&url, orthanc_auth());
    let res = roboct_dicom::send::Sender::send_batch(&mut untrusted, &out);
    let e = res[0].clone().unwrap_err();
    assert_eq!(e.kind, Failure::Transient, "{e}");
    assert!(e.message.to_lowercase().contains("certificate"), "{e}");
    // The hospital CA configured: stored.
    let pem = std::fs::read(&ca).unwrap();
    let mut trusted =
        StowSender::new(&url, orthanc_auth(), Some(&pem), Duration::from_secs(5), 8).unwrap();
    for r in roboct_dicom::send::Sender::send_batch(&mut trusted, &out) {
        r.unwrap();
    }
    assert_all_arrived(&orthanc, &inst);
}

#[test]
fn c_store_statuses_retry_fail_or_count_as_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let received = tmp.path().join("received");
    std::fs::create_dir(&received).unwrap();
    let inst = series(8, 5);
    let port = free_port();
    let _scp = spawn(
        "pynetdicom storage SCP",
        Command::new(python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/store_scp.py"))
            .arg(port.to_string())
            .arg(&received)
            .arg("2")
            .arg(&inst[1].sop_instance_uid)
            .arg(&inst[2].sop_instance_uid),
    );
    wait_port(port, "storage SCP");
    let outbox = Outbox::open(tmp.path().join("box")).unwrap();
    enqueue_all(&outbox, &inst);
    let peer = loopback_peer("STORE", port);
    let mut up = pacs_uploader(&outbox, dimse_to(peer));
    let r = up.run(None, &roboct_core::NoProgress).unwrap();
    drop(up);
    // 0xA700 twice: retried after backoff, then stored; 0xA900: failed for good, with the
    // status but not the Error Comment (it quotes the patient's name); 0x0111 (the SCP
    // already holds it): stored.
    assert_eq!((r.sent, r.pending, r.failed.len()), (4, 0, 1), "{r:?}");
    assert!(r.last_transient_error.unwrap().contains("0xA700"));
    assert_eq!(r.failed[0].0, inst[1].sop_instance_uid);
    let why = &r.failed[0].1;
    assert!(why.contains("0xA900"), "{why}");
    assert!(!why.contains("DOE") && !why.contains("JOHN"), "{why}");
    let rec = |k: usize| {
        outbox
            .record("pacs", &inst[k].sop_instance_uid)
            .unwrap()
            .unwrap()
    };
    assert_eq!((rec(1).state, rec(1).attempts), (ItemState::Failed, 1));
    assert!(!rec(1).last_error.unwrap().contains("DOE"));
    assert_eq!((rec(0).state, rec(0).attempts), (ItemState::Sent, 3));
    assert_eq!((rec(2).state, rec(2).attempts), (ItemState::Sent, 1));
    // Stored by this SCP: the three new ones (not the refused, not the duplicate).
    assert_eq!(std::fs::read_dir(&received).unwrap().count(), 3);
    // The operator requeues the refused one; it is still there, not lost.
    assert_eq!(outbox.requeue_failed("pacs").unwrap(), 1);
    assert_eq!(outbox.status().unwrap()[0].pending, 1);
}

/// What a fake HTTP server saw of one request.
struct Request {
    line1: String,
    auth: String,
    ctype: String,
    body: Vec<u8>,
}

/// An HTTP server on loopback that answers one request per reply, in order, then stops.
fn http_server(
    replies: Vec<(&'static str, &'static str, String)>,
) -> (u16, std::thread::JoinHandle<Vec<Request>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for (status, ctype_out, reply) in replies {
            let (s, _) = listener.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut req = Request {
                line1: String::new(),
                auth: String::new(),
                ctype: String::new(),
                body: Vec::new(),
            };
            let mut len = 0usize;
            r.read_line(&mut req.line1).unwrap();
            loop {
                let mut l = String::new();
                r.read_line(&mut l).unwrap();
                let l = l.trim_end().to_string();
                if l.is_empty() {
                    break;
                }
                let (name, value) = l.split_once(':').unwrap();
                match name.to_ascii_lowercase().as_str() {
                    "authorization" => req.auth = value.trim().to_string(),
                    "content-length" => len = value.trim().parse().unwrap(),
                    "content-type" => req.ctype = value.trim().to_string(),
                    _ => {}
                }
            }
            req.body = vec![0u8; len];
            r.read_exact(&mut req.body).unwrap();
            let mut s = s;
            write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: {ctype_out}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            )
            .unwrap();
            seen.push(req);
        }
        seen
    });
    (port, server)
}

/// A DICOM JSON STOW-RS response listing `uid` as stored, or as failed with `reason`.
fn stow_json(uid: &str, failed_reason: Option<u16>) -> String {
    match failed_reason {
        None => format!(
            r#"{{"00081199":{{"vr":"SQ","Value":[{{"00081155":{{"vr":"UI","Value":["{uid}"]}}}}]}}}}"#
        ),
        Some(r) => format!(
            r#"{{"00081198":{{"vr":"SQ","Value":[{{"00081155":{{"vr":"UI","Value":["{uid}"]}},"00081197":{{"vr":"US","Value":[{r}]}}}}]}}}}"#
        ),
    }
}

#[test]
fn stow_sends_a_bearer_token() {
    let inst = series(8, 1);
    let (port, server) = http_server(vec![(
        "200 OK",
        "application/dicom+json",
        stow_json(&inst[0].sop_instance_uid, None),
    )]);
    let mut s = StowSender::new(
        &format!("http://127.0.0.1:{port}/dicom-web"),
        HttpAuth::Bearer(CredentialSource::Value(Secret::new("tok-123"))),
        None,
        Duration::from_secs(5),
        4,
    )
    .unwrap();
    let res = roboct_dicom::send::Sender::send_batch(&mut s, &[outgoing(&inst[0])]);
    res[0].clone().unwrap();
    let seen = server.join().unwrap();
    let req = &seen[0];
    assert!(
        req.line1.starts_with("POST /dicom-web/studies "),
        "{}",
        req.line1
    );
    assert_eq!(req.auth, "Bearer tok-123");
    assert!(
        req.ctype
            .starts_with("multipart/related; type=\"application/dicom\"; boundary="),
        "{}",
        req.ctype
    );
    // The part carries our file byte for byte.
    assert!(
        req.body
            .windows(inst[0].bytes.len())
            .any(|w| w == inst[0].bytes.as_slice())
    );
}

#[test]
fn stow_answers_duplicates_as_stored_and_never_quotes_a_body() {
    let inst = series(8, 4);
    let uid = |k: usize| inst[k].sop_instance_uid.clone();
    let (port, server) = http_server(vec![
        // A resend: 409 with the instance failed as 0x0111 Duplicate SOP Instance.
        (
            "409 Conflict",
            "application/dicom+json",
            stow_json(&uid(0), Some(0x0111)),
        ),
        // A resend to an archive that answers in prose.
        (
            "409 Conflict",
            "text/plain",
            "instance already exists".into(),
        ),
        // A refusal whose body quotes the patient.
        (
            "400 Bad Request",
            "text/plain",
            "cannot store DOE^JOHN born 19700101".into(),
        ),
        // A busy server.
        ("503 Service Unavailable", "text/plain", "busy".into()),
    ]);
    let mut s = StowSender::new(
        &format!("http://127.0.0.1:{port}/dicom-web"),
        HttpAuth::None,
        None,
        Duration::from_secs(5),
        1,
    )
    .unwrap();
    let mut send = |k: usize| {
        roboct_dicom::send::Sender::send_batch(&mut s, &[outgoing(&inst[k])])
            .pop()
            .unwrap()
    };
    send(0).unwrap();
    send(1).unwrap();
    let e = send(2).unwrap_err();
    assert_eq!(e.kind, Failure::Refused, "{e}");
    assert!(e.message.contains("HTTP 400 Bad Request"), "{e}");
    assert!(
        !e.message.contains("DOE") && !e.message.contains("1970"),
        "{e}"
    );
    let e = send(3).unwrap_err();
    assert_eq!(e.kind, Failure::Transient, "{e}");
    assert!(e.message.contains("503 Service Unavailable"), "{e}");
    assert_eq!(server.join().unwrap().len(), 4);
}

/// A sender that quotes a URL with credentials in its errors, as a careless one might.
struct QuotesCredentials(Failure);

impl roboct_dicom::send::Sender for QuotesCredentials {
    fn send_batch(&mut self, items: &[Outgoing<'_>]) -> Vec<Result<(), SendError>> {
        items
            .iter()
            .map(|_| {
                Err(SendError {
                    kind: self.0,
                    message: "error sending request for url (https://robot:hunter2@pacs.example.org/dicom-web/studies)".into(),
                })
            })
            .collect()
    }
}

#[test]
fn url_credentials_never_reach_an_error_or_the_outbox() {
    // Refused where they would come in, without being repeated.
    let refused = StowSender::new(
        "http://robot:hunter2@127.0.0.1:1/dicom-web",
        HttpAuth::None,
        None,
        Duration::from_secs(1),
        1,
    );
    let Err(e) = refused else {
        panic!("a URL with credentials was accepted")
    };
    assert_eq!(e.kind, Failure::Configuration, "{e}");
    assert!(
        e.message.contains("credentials") && !e.message.contains("hunter2"),
        "{e}"
    );
    // Masked on the way to the outbox and the report, whatever a sender says.
    for kind in [Failure::Transient, Failure::Refused, Failure::Configuration] {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(tmp.path()).unwrap();
        enqueue_all(&outbox, &series(8, 1));
        let mut up = Uploader::new(
            outbox.clone(),
            "pacs",
            Box::new(QuotesCredentials(kind)),
            UploadPolicy::default(),
        )
        .unwrap();
        up.step().unwrap();
        let report = format!("{:?}", up.finish());
        drop(up);
        let rec = &outbox.records("pacs").unwrap()[0];
        let stored = rec.last_error.clone().unwrap();
        assert!(
            stored.contains("https://***@pacs.example.org/dicom-web"),
            "{kind:?}: {stored}"
        );
        assert!(!stored.contains("hunter2"), "{kind:?}: {stored}");
        assert!(!report.contains("hunter2"), "{kind:?}: {report}");
    }
}
