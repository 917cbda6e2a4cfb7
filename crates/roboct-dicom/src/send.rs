//! Senders: C-STORE over an association kept open between instances, and STOW-RS over HTTP(S).
//!
//! Both take Part 10 files as the outbox stores them. The C-STORE sender proposes, for each
//! SOP class, one presentation context per transfer syntax (the file's own first, then
//! explicit and implicit VR little endian), so the choice is ours rather than the acceptor's;
//! when the file's syntax is accepted its data set bytes go out unchanged.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::config::{HttpAuth, PacsConfig, PacsEndpoint, redact_url_credentials};
use crate::dimse::{Association, AssociationOptions, NetError, Peer, ProposedContext};
use crate::part10::{
    EXPLICIT_VR_LE, IMPLICIT_VR_LE, NATIVE_SYNTAXES, Part10Info, decode_dataset, encode_dataset,
    read_part10_info,
};

/// What a failed send means for the instance and for the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Failure {
    /// The network or the destination is down, busy or slow: the instance stays queued and is
    /// retried after a backoff.
    Transient,
    /// The destination refused this instance (data it cannot use, a class it does not take):
    /// it is marked failed and kept for an operator; the queue goes on.
    Refused,
    /// Our configuration is wrong (a credential missing or refused, an AE title rejected):
    /// retrying cannot help, so the run stops at once with everything still queued and the
    /// message says what to fix.
    Configuration,
}

/// Why one instance was not stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// What the failure means.
    pub kind: Failure,
    /// What happened: statuses, HTTP codes and reason phrases, network errors; never text
    /// the peer made up (an Error Comment or a response body may quote patient data).
    pub message: String,
}

impl SendError {
    fn refused(message: impl Into<String>) -> Self {
        Self {
            kind: Failure::Refused,
            message: message.into(),
        }
    }
    fn transient(message: impl Into<String>) -> Self {
        Self {
            kind: Failure::Transient,
            message: message.into(),
        }
    }
    fn configuration(message: impl Into<String>) -> Self {
        Self {
            kind: Failure::Configuration,
            message: message.into(),
        }
    }
    /// Whether a later retry may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == Failure::Transient
    }
}

impl From<NetError> for SendError {
    fn from(e: NetError) -> Self {
        let kind = if e.is_configuration() {
            Failure::Configuration
        } else if e.is_transient() {
            Failure::Transient
        } else {
            Failure::Refused
        };
        Self {
            kind,
            message: e.to_string(),
        }
    }
}

/// One instance to send.
#[derive(Clone, Copy, Debug)]
pub struct Outgoing<'a> {
    /// SOP Instance UID.
    pub sop_instance_uid: &'a str,
    /// The Part 10 file.
    pub bytes: &'a [u8],
}

/// Something that stores instances at a destination.
pub trait Sender: Send {
    /// Stores a batch; one result per item, in order.
    fn send_batch(&mut self, items: &[Outgoing<'_>]) -> Vec<Result<(), SendError>>;
    /// Instances per batch this sender prefers.
    fn batch_size(&self) -> usize {
        1
    }
    /// Closes connections (A-RELEASE); called when the queue is drained.
    fn close(&mut self) {}
}

/// SOP classes proposed on every association, so a series with its reports needs one.
const DEFAULT_CLASSES: [&str; 4] = [
    crate::ct::CT_IMAGE_STORAGE,
    crate::sr::XRAY_RADIATION_DOSE_SR,
    crate::sr::COMPREHENSIVE_SR,
    crate::sr::KEY_OBJECT_SELECTION,
];

/// C-STORE SCU keeping one association open while there is work.
pub struct DimseSender {
    peer: Peer,
    options: AssociationOptions,
    assoc: Option<Association>,
    classes: BTreeSet<String>,
    syntaxes: BTreeSet<String>,
    preferred: String,
    /// Requests answered by an A-ABORT from the peer since the last success.
    aborts_in_a_row: u32,
}

/// A PACS that aborts this many requests in a row, each on a new association, with nothing
/// stored in between, is not busy or restarting: it refuses us (Orthanc does so to an unknown
/// calling AE title). Retrying for hours would only hide the configuration error.
const ABORTS_MEANING_NOT_ALLOWED: u32 = 3;

impl DimseSender {
    /// A sender to `peer`, preferring `transfer_syntax` when files are in it.
    pub fn new(peer: Peer, options: AssociationOptions, transfer_syntax: &str) -> Self {
        Self {
            peer,
            options,
            assoc: None,
            classes: DEFAULT_CLASSES.iter().map(|s| s.to_string()).collect(),
            syntaxes: [transfer_syntax, EXPLICIT_VR_LE, IMPLICIT_VR_LE]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            preferred: transfer_syntax.to_string(),
            aborts_in_a_row: 0,
        }
    }

    fn contexts(&self) -> Vec<ProposedContext> {
        let mut out = Vec::new();
        for class in &self.classes {
            // Preferred syntax first so that, with equal choice, it gets the lower ID.
            let mut ts: Vec<&String> = self.syntaxes.iter().collect();
            ts.sort_by_key(|t| (*t != &self.preferred, *t != EXPLICIT_VR_LE));
            for t in ts {
                out.push(ProposedContext {
                    abstract_syntax: class.clone(),
                    transfer_syntaxes: vec![t.clone()],
                });
            }
        }
        out
    }

    fn association(&mut self, info: &Part10Info) -> Result<&mut Association, SendError> {
        let new_class = self.classes.insert(info.sop_class_uid.clone());
        let new_ts = self.syntaxes.insert(info.transfer_syntax_uid.clone());
        if (new_class || new_ts)
            && let Some(a) = self.assoc.take()
        {
            let _ = a.release();
        }
        if self.assoc.is_none() {
            let contexts = self.contexts();
            self.assoc = Some(Association::open(&self.peer, &self.options, &contexts)?);
        }
        Ok(self.assoc.as_mut().expect("just opened"))
    }

    fn store_one(&mut self, item: &Outgoing<'_>) -> Result<(), SendError> {
        let info = read_part10_info(item.bytes)
            .map_err(|e| SendError::refused(format!("not a DICOM file: {e}")))?;
        if info.sop_instance_uid != item.sop_instance_uid {
            return Err(SendError::refused(format!(
                "file holds SOP Instance UID {} but was queued as {}",
                info.sop_instance_uid, item.sop_instance_uid
            )));
        }
        let file_ts = info.transfer_syntax_uid.clone();
        let assoc = self.association(&info)?;
        let mut preference = vec![file_ts.as_str()];
        if NATIVE_SYNTAXES.contains(&file_ts.as_str()) {
            preference.extend([EXPLICIT_VR_LE, IMPLICIT_VR_LE]);
        }
        let pc = assoc
            .context_for(&info.sop_class_uid, &preference)
            .map_err(|e| {
                SendError::refused(format!(
                    "{e}; the file is in {file_ts} and cannot be converted to a syntax the PACS accepts"
                ))
            })?
            .clone();
        let dataset = &item.bytes[info.dataset_offset..];
        let result = if pc.transfer_syntax == file_ts {
            assoc.c_store(pc.id, &info.sop_class_uid, &info.sop_instance_uid, dataset)
        } else {
            // Lossless conversion between native syntaxes (e.g. deflated -> explicit).
            let obj = decode_dataset(dataset, &file_ts)
                .map_err(|e| SendError::refused(format!("cannot decode the file: {e}")))?;
            let converted = encode_dataset(&obj, &pc.transfer_syntax)
                .map_err(|e| SendError::refused(e.to_string()))?;
            assoc.c_store(
                pc.id,
                &info.sop_class_uid,
                &info.sop_instance_uid,
                &converted,
            )
        };
        match result {
            Ok(_) => {
                self.aborts_in_a_row = 0;
                Ok(())
            }
            // 0x0111: the PACS already holds this UID, i.e. this is a resend of an instance it
            // stored before (after a crash or a lost response); the outbox guarantees that one
            // UID always carries the same bytes, so the instance is stored.
            Err(NetError::Failed { status, .. }) if status.is_duplicate() => Ok(()),
            Err(e @ NetError::AbortedByPeer { .. }) => {
                self.assoc = None;
                self.aborts_in_a_row += 1;
                if self.aborts_in_a_row >= ABORTS_MEANING_NOT_ALLOWED {
                    self.aborts_in_a_row = 0;
                    return Err(SendError::configuration(format!(
                        "{e}, {ABORTS_MEANING_NOT_ALLOWED} times in a row on fresh associations without storing anything: it most likely does not accept our AE title {} from this host (check that the PACS has us registered: AE title and IP address)",
                        self.options.calling_ae_title
                    )));
                }
                Err(e.into())
            }
            Err(e) => {
                self.aborts_in_a_row = 0;
                // After a failure the association may be in any state: start afresh.
                if !matches!(e, NetError::Failed { .. })
                    && let Some(a) = self.assoc.take()
                {
                    a.abort();
                }
                Err(e.into())
            }
        }
    }
}

impl Sender for DimseSender {
    fn send_batch(&mut self, items: &[Outgoing<'_>]) -> Vec<Result<(), SendError>> {
        items.iter().map(|i| self.store_one(i)).collect()
    }

    fn close(&mut self) {
        if let Some(a) = self.assoc.take() {
            let _ = a.release();
        }
    }
}

/// DICOMweb STOW-RS client (PS3.18 §10.5): `POST {url}/studies` with
/// `multipart/related; type="application/dicom"`.
pub struct StowSender {
    client: reqwest::blocking::Client,
    url: String,
    auth: HttpAuth,
    batch: usize,
}

impl StowSender {
    /// A client for `url` (the DICOMweb root), trusting the system roots plus `ca_pem`.
    /// A URL with credentials in it (`user:pass@`) is refused: they go in `auth`.
    pub fn new(
        url: &str,
        auth: HttpAuth,
        ca_pem: Option<&[u8]>,
        timeout: Duration,
        batch: usize,
    ) -> Result<Self, SendError> {
        if let Ok(u) = reqwest::Url::parse(url)
            && (!u.username().is_empty() || u.password().is_some())
        {
            return Err(SendError::configuration(format!(
                "the STOW-RS URL {} holds credentials: pass them as basic or bearer auth instead",
                redact_url_credentials(url)
            )));
        }
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("roboct/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                SendError::configuration(format!("CA file is not PEM certificates: {e}"))
            })?;
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder
            .build()
            .map_err(|e| SendError::configuration(format!("cannot set up HTTPS: {}", chain(&e))))?;
        Ok(Self {
            client,
            url: url.trim_end_matches('/').to_string(),
            auth,
            batch: batch.max(1),
        })
    }

    fn post(&self, items: &[Outgoing<'_>]) -> Result<(u16, Vec<u8>), SendError> {
        let boundary = format!("roboct-{}", crate::uid::UidGenerator::default().generate());
        let size: usize = items.iter().map(|i| i.bytes.len() + 128).sum();
        let mut body = Vec::with_capacity(size + 64);
        for i in items {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Type: application/dicom\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(i.bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let mut req = self
            .client
            .post(format!("{}/studies", self.url))
            .header(
                "Content-Type",
                format!("multipart/related; type=\"application/dicom\"; boundary={boundary}"),
            )
            .header("Accept", "application/dicom+json")
            .body(body);
        req = match &self.auth {
            HttpAuth::None => req,
            HttpAuth::Basic { username, password } => {
                let pw = password
                    .resolve("password")
                    .map_err(|e| SendError::configuration(e.to_string()))?;
                req.basic_auth(username, Some(pw.expose()))
            }
            HttpAuth::Bearer(token) => {
                let t = token
                    .resolve("token")
                    .map_err(|e| SendError::configuration(e.to_string()))?;
                req.bearer_auth(t.expose())
            }
        };
        let resp = req.send().map_err(|e| {
            // Connection refused, reset, timeouts and TLS failures (bad certificate) alike:
            // keep the instances and retry; the message says which it was.
            SendError::transient(format!("STOW-RS to {}: {}", self.url, chain(&e)))
        })?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .map_err(|e| {
                SendError::transient(format!("STOW-RS response cut short: {}", chain(&e)))
            })?
            .to_vec();
        Ok((status, body))
    }
}

/// An HTTP error and its causes, with any URL credentials masked (reqwest quotes the URL).
fn chain(e: &reqwest::Error) -> String {
    redact_url_credentials(&crate::error_chain(e))
}

/// Per-instance outcome of a STOW-RS request.
struct StowOutcome {
    stored: Vec<String>,
    /// UID and Failure Reason (0008,1197).
    failed: Vec<(String, u16)>,
}

/// Per-instance outcome from a STOW-RS response body (DICOM JSON, PS3.18 Table 10.5.3-1).
fn stow_failures(body: &[u8]) -> Option<StowOutcome> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let uids = |seq: &str, with_reason: bool| -> Vec<(String, u16)> {
        v.get(seq)
            .and_then(|s| s.get("Value"))
            .and_then(|s| s.as_array())
            .map(|items| {
                items
                    .iter()
                    .filter_map(|it| {
                        let uid = it
                            .get("00081155")?
                            .get("Value")?
                            .get(0)?
                            .as_str()?
                            .to_string();
                        let reason = if with_reason {
                            it.get("00081197")
                                .and_then(|r| r.get("Value"))
                                .and_then(|r| r.get(0))
                                .and_then(|r| r.as_u64())
                                .unwrap_or(0x0110) as u16
                        } else {
                            0
                        };
                        Some((uid, reason))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let stored = uids("00081199", false)
        .into_iter()
        .map(|(u, _)| u)
        .collect();
    Some(StowOutcome {
        stored,
        failed: uids("00081198", true),
    })
}

/// `409 Conflict` whose body is not a DICOM JSON response but says the instance exists, as
/// some archives answer a resend.
fn says_already_stored(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]).to_ascii_lowercase();
    text.contains("already exist") || text.contains("duplicate")
}

impl StowSender {
    /// One request for `items`. The flag says the whole request was refused without naming
    /// the instance(s) at fault (a 400 for one unreadable part, a 409 without a per-instance
    /// answer), which tells nothing about the other parts of a batch.
    fn send_once(&self, items: &[Outgoing<'_>]) -> (Vec<Result<(), SendError>>, bool) {
        let all = |r: Result<(), SendError>| items.iter().map(|_| r.clone()).collect::<Vec<_>>();
        let (status, body) = match self.post(items) {
            Ok(x) => x,
            Err(e) => return (all(Err(e)), false),
        };
        // Status code and reason phrase only: the body may quote the data it refused.
        let http = match reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
        {
            Some(reason) => format!("HTTP {status} {reason}"),
            None => format!("HTTP {status}"),
        };
        let parsed = stow_failures(&body);
        match (status, parsed) {
            (200 | 202 | 409, Some(StowOutcome { stored, failed })) => {
                let results = items
                    .iter()
                    .map(|i| {
                        if let Some((_, reason)) =
                            failed.iter().find(|(u, _)| u == i.sop_instance_uid)
                        {
                            let s = crate::dimse::Status(*reason);
                            if s.is_duplicate() {
                                // Already stored: a resend (see `DimseSender`).
                                return Ok(());
                            }
                            Err(SendError {
                                kind: if s.is_transient_failure() {
                                    Failure::Transient
                                } else {
                                    Failure::Refused
                                },
                                message: format!(
                                    "STOW-RS to {} refused the instance: failure reason {s}",
                                    self.url
                                ),
                            })
                        } else if stored.iter().any(|u| u == i.sop_instance_uid) || status == 200 {
                            Ok(())
                        } else {
                            Err(SendError::transient(format!(
                                "STOW-RS to {} answered {http} without listing the instance",
                                self.url
                            )))
                        }
                    })
                    .collect();
                (results, false)
            }
            (200, None) => (all(Ok(())), false),
            (202, None) => (
                all(Err(SendError::transient(format!(
                    "STOW-RS to {} answered {http} without a readable response body",
                    self.url
                )))),
                false,
            ),
            (409, None) if items.len() == 1 && says_already_stored(&body) => (all(Ok(())), false),
            (401 | 403, _) => (
                all(Err(SendError::configuration(format!(
                    "STOW-RS to {} answered {http}: check the credentials in the configuration",
                    self.url
                )))),
                false,
            ),
            (408 | 429 | 500..=599, _) => (
                all(Err(SendError::transient(format!(
                    "STOW-RS to {} answered {http}",
                    self.url
                )))),
                false,
            ),
            _ => (
                all(Err(SendError::refused(format!(
                    "STOW-RS to {} answered {http}",
                    self.url
                )))),
                true,
            ),
        }
    }
}

impl Sender for StowSender {
    fn batch_size(&self) -> usize {
        self.batch
    }

    fn send_batch(&mut self, items: &[Outgoing<'_>]) -> Vec<Result<(), SendError>> {
        let (results, whole_batch_refused) = self.send_once(items);
        if whole_batch_refused && items.len() > 1 {
            // One bad part must not fail its good neighbours: ask again one by one.
            return items
                .iter()
                .map(|i| {
                    let (mut r, _) = self.send_once(std::slice::from_ref(i));
                    r.pop().expect("one result per item")
                })
                .collect();
        }
        results
    }
}

/// Makes the sender for a configured PACS. A credential that cannot be read, or a CA file
/// that is not one, is a [`Failure::Configuration`] error here, before anything is sent.
pub fn sender_for(pacs: &PacsConfig, calling_ae: &str) -> Result<Box<dyn Sender>, SendError> {
    match &pacs.endpoint {
        PacsEndpoint::Dimse {
            peer,
            transfer_syntax,
        } => Ok(Box::new(DimseSender::new(
            peer.clone(),
            AssociationOptions::new(calling_ae).dimse_timeout(pacs.timeout),
            transfer_syntax,
        ))),
        PacsEndpoint::Stow {
            url,
            auth,
            ca_file,
            batch,
            insecure: _,
        } => {
            let pem = match ca_file {
                Some(p) => Some(std::fs::read(p).map_err(|e| {
                    SendError::configuration(format!("cannot read CA file {}: {e}", p.display()))
                })?),
                None => None,
            };
            // Fail before anything is sent when a credential cannot be read; it is read again
            // for every request, so a rotated password or token file is picked up.
            match auth {
                HttpAuth::None => {}
                HttpAuth::Basic { password, .. } => {
                    password
                        .resolve(&format!("pacs.{}.password", pacs.name))
                        .map_err(|e| SendError::configuration(e.to_string()))?;
                }
                HttpAuth::Bearer(token) => {
                    token
                        .resolve(&format!("pacs.{}.token", pacs.name))
                        .map_err(|e| SendError::configuration(e.to_string()))?;
                }
            }
            Ok(Box::new(StowSender::new(
                url,
                auth.clone(),
                pem.as_deref(),
                pacs.timeout,
                *batch,
            )?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stow_response_lists_stored_and_failed() {
        let body =
            br#"{"00081199":{"vr":"SQ","Value":[{"00081155":{"vr":"UI","Value":["1.2.3"]}}]},
            "00081198":{"vr":"SQ","Value":[{"00081155":{"vr":"UI","Value":["1.2.4"]},
            "00081197":{"vr":"US","Value":[43264]}}]}}"#;
        let o = stow_failures(body).unwrap();
        assert_eq!(o.stored, vec!["1.2.3".to_string()]);
        assert_eq!(o.failed, vec![("1.2.4".to_string(), 0xA900)]);
        assert!(stow_failures(b"<html>").is_none());
    }
}
