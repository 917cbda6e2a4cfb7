//! Senders: C-STORE over an association kept open between instances, and STOW-RS over HTTP(S).
//!
//! Both take Part 10 files as the outbox stores them. The C-STORE sender proposes, for each
//! SOP class, one presentation context per transfer syntax (the file's own first, then
//! explicit and implicit VR little endian), so the choice is ours rather than the acceptor's;
//! when the file's syntax is accepted its data set bytes go out unchanged.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::config::{HttpAuth, PacsConfig, PacsEndpoint};
use crate::dimse::{Association, AssociationOptions, NetError, Peer, ProposedContext};
use crate::part10::{
    DEFLATED_EXPLICIT_VR_LE, EXPLICIT_VR_LE, IMPLICIT_VR_LE, Part10Info, decode_dataset,
    encode_dataset, read_part10_info,
};

/// Why one instance was not stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// Whether a later retry may succeed (network, timeout, PACS busy or down).
    pub transient: bool,
    /// What happened (no patient data).
    pub message: String,
}

impl SendError {
    fn permanent(message: impl Into<String>) -> Self {
        Self {
            transient: false,
            message: message.into(),
        }
    }
    fn transient(message: impl Into<String>) -> Self {
        Self {
            transient: true,
            message: message.into(),
        }
    }
}

impl From<NetError> for SendError {
    fn from(e: NetError) -> Self {
        Self {
            transient: e.is_transient(),
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

/// Native (uncompressed pixel) syntaxes, between which we can transcode losslessly.
const NATIVE: [&str; 3] = [EXPLICIT_VR_LE, IMPLICIT_VR_LE, DEFLATED_EXPLICIT_VR_LE];

/// C-STORE SCU keeping one association open while there is work.
pub struct DimseSender {
    peer: Peer,
    options: AssociationOptions,
    assoc: Option<Association>,
    classes: BTreeSet<String>,
    syntaxes: BTreeSet<String>,
    preferred: String,
}

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
            .map_err(|e| SendError::permanent(format!("not a DICOM file: {e}")))?;
        if info.sop_instance_uid != item.sop_instance_uid {
            return Err(SendError::permanent(format!(
                "file holds SOP Instance UID {} but was queued as {}",
                info.sop_instance_uid, item.sop_instance_uid
            )));
        }
        let file_ts = info.transfer_syntax_uid.clone();
        let assoc = self.association(&info)?;
        let mut preference = vec![file_ts.as_str()];
        if NATIVE.contains(&file_ts.as_str()) {
            preference.extend([EXPLICIT_VR_LE, IMPLICIT_VR_LE]);
        }
        let pc = assoc
            .context_for(&info.sop_class_uid, &preference)
            .map_err(|e| {
                SendError::permanent(format!(
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
                .map_err(|e| SendError::permanent(format!("cannot decode the file: {e}")))?;
            let converted = encode_dataset(&obj, &pc.transfer_syntax)
                .map_err(|e| SendError::permanent(e.to_string()))?;
            assoc.c_store(
                pc.id,
                &info.sop_class_uid,
                &info.sop_instance_uid,
                &converted,
            )
        };
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
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
    pub fn new(
        url: &str,
        auth: HttpAuth,
        ca_pem: Option<&[u8]>,
        timeout: Duration,
        batch: usize,
    ) -> Result<Self, SendError> {
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("roboct/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                SendError::permanent(format!("CA file is not PEM certificates: {e}"))
            })?;
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder
            .build()
            .map_err(|e| SendError::permanent(format!("cannot set up HTTPS: {}", chain(&e))))?;
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
                    .map_err(|e| SendError::transient(e.to_string()))?;
                req.basic_auth(username, Some(pw.expose()))
            }
            HttpAuth::Bearer(token) => {
                let t = token
                    .resolve("token")
                    .map_err(|e| SendError::transient(e.to_string()))?;
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

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
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

impl Sender for StowSender {
    fn batch_size(&self) -> usize {
        self.batch
    }

    fn send_batch(&mut self, items: &[Outgoing<'_>]) -> Vec<Result<(), SendError>> {
        let all = |r: Result<(), SendError>| items.iter().map(|_| r.clone()).collect();
        let (status, body) = match self.post(items) {
            Ok(x) => x,
            Err(e) => return all(Err(e)),
        };
        let parsed = stow_failures(&body);
        match status {
            200 | 202 | 409 => {
                let Some(StowOutcome { stored, failed }) = parsed else {
                    return if status == 200 {
                        all(Ok(()))
                    } else {
                        all(Err(SendError::transient(format!(
                            "STOW-RS answered HTTP {status} without a readable response body"
                        ))))
                    };
                };
                items
                    .iter()
                    .map(|i| {
                        if let Some((_, reason)) =
                            failed.iter().find(|(u, _)| u == i.sop_instance_uid)
                        {
                            let s = crate::dimse::Status(*reason);
                            Err(SendError {
                                transient: s.is_transient_failure(),
                                message: format!(
                                    "STOW-RS refused the instance: failure reason {s}"
                                ),
                            })
                        } else if stored.iter().any(|u| u == i.sop_instance_uid) || status == 200 {
                            Ok(())
                        } else {
                            Err(SendError::transient(format!(
                                "STOW-RS answered HTTP {status} without listing the instance"
                            )))
                        }
                    })
                    .collect()
            }
            401 | 403 => all(Err(SendError::transient(format!(
                "STOW-RS to {} answered HTTP {status}: check the credentials in the configuration",
                self.url
            )))),
            408 | 429 | 500..=599 => all(Err(SendError::transient(format!(
                "STOW-RS to {} answered HTTP {status}",
                self.url
            )))),
            _ => all(Err(SendError::permanent(format!(
                "STOW-RS to {} answered HTTP {status}: {}",
                self.url,
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )))),
        }
    }
}

/// Makes the sender for a configured PACS.
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
        } => {
            let pem = match ca_file {
                Some(p) => Some(std::fs::read(p).map_err(|e| {
                    SendError::permanent(format!("cannot read CA file {}: {e}", p.display()))
                })?),
                None => None,
            };
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
