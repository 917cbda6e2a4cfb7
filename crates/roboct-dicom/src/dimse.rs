//! The DIMSE message layer (PS3.7) over dicom-ul associations, written once for every service:
//! C-ECHO, C-STORE, C-FIND (worklist), N-CREATE and N-SET (MPPS).
//!
//! dicom-ul stops at PDUs. This module adds command sets (always implicit VR little endian,
//! PS3.7 §6.3.1), fragmentation into P-DATA values no larger than the receiver's maximum PDU,
//! reassembly of messages, message IDs, statuses and timeouts. The requester side is
//! [`Association`]; the acceptor side ([`crate::scp`]) shares the command sets, the
//! fragmentation and the reassembly below. It sets `TCP_NODELAY` after the
//! association is up: without it every request/response pair waits 40-90 ms for Nagle's
//! algorithm and delayed ACKs.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::Duration;

use dicom_ul::association::SyncAssociation;
use dicom_ul::association::client::ClientAssociation;
use dicom_ul::pdu::{
    AbortRQSource, AssociationRJResult, PDataValue, PDataValueType, Pdu,
    PresentationContextResultReason,
};
use dicom_ul::{ClientAssociationOptions, association::Error as UlError};

/// Verification SOP Class (C-ECHO).
pub const VERIFICATION: &str = "1.2.840.10008.1.1";

/// A remote application entity: AE title, host and port.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Peer {
    /// Called AE title (at most 16 characters).
    pub ae_title: String,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}:{}", self.ae_title, self.host, self.port)
    }
}

/// How we open associations.
#[derive(Clone, Debug)]
pub struct AssociationOptions {
    /// Our (calling) AE title.
    pub calling_ae_title: String,
    /// Longest wait for the TCP connection.
    pub connect_timeout: Duration,
    /// Longest wait for any single PDU from the peer (ARTIM / DIMSE timeout).
    pub dimse_timeout: Duration,
    /// The largest PDU we accept from the peer.
    pub max_pdu_length: u32,
}

impl AssociationOptions {
    /// Defaults: 5 s to connect, 30 s per response, 1 MiB PDUs.
    pub fn new(calling_ae_title: impl Into<String>) -> Self {
        Self {
            calling_ae_title: calling_ae_title.into(),
            connect_timeout: Duration::from_secs(5),
            dimse_timeout: Duration::from_secs(30),
            max_pdu_length: 1 << 20,
        }
    }

    /// Sets the response timeout.
    pub fn dimse_timeout(mut self, timeout: Duration) -> Self {
        self.dimse_timeout = timeout;
        self
    }

    /// Sets the connection timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// A presentation context to propose: one abstract syntax, transfer syntaxes in preference order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposedContext {
    /// SOP class UID.
    pub abstract_syntax: String,
    /// Transfer syntax UIDs, preferred first.
    pub transfer_syntaxes: Vec<String>,
}

impl ProposedContext {
    /// A context for `abstract_syntax` with the given transfer syntaxes.
    pub fn new(abstract_syntax: &str, transfer_syntaxes: &[&str]) -> Self {
        Self {
            abstract_syntax: abstract_syntax.to_string(),
            transfer_syntaxes: transfer_syntaxes.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// A presentation context the peer accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedContext {
    /// Presentation context ID.
    pub id: u8,
    /// SOP class UID.
    pub abstract_syntax: String,
    /// The transfer syntax the peer chose.
    pub transfer_syntax: String,
}

/// A DIMSE status (PS3.7 Annex C).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub u16);

impl Status {
    /// 0x0000.
    pub fn is_success(self) -> bool {
        self.0 == 0
    }
    /// 0x0001 or 0xBxxx: the operation was done with a warning.
    pub fn is_warning(self) -> bool {
        self.0 == 0x0001 || (self.0 & 0xF000) == 0xB000 || self.0 == 0x0107 || self.0 == 0x0116
    }
    /// 0xFF00 / 0xFF01: more responses follow.
    pub fn is_pending(self) -> bool {
        self.0 == 0xFF00 || self.0 == 0xFF01
    }
    /// Success or warning: the instance was stored / the request done.
    pub fn is_ok(self) -> bool {
        self.is_success() || self.is_warning()
    }
    /// Failures worth retrying later: out of resources (0xA7xx, 0x0213) and processing
    /// failure (0x0110), which SCPs also return for a full disk or a busy database.
    pub fn is_transient_failure(self) -> bool {
        (self.0 & 0xFF00) == 0xA700 || self.0 == 0x0213 || self.0 == 0x0110
    }
    /// 0x0111 Duplicate SOP Instance: the peer already holds an instance with this UID. For a
    /// store of an instance we sent before (a resend after a crash) that means it is stored.
    pub fn is_duplicate(self) -> bool {
        self.0 == 0x0111
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let meaning = match self.0 {
            0x0000 => "success",
            0x0001 | 0x0107 | 0x0116 => "warning",
            0xB000..=0xBFFF => "warning",
            0xFF00 | 0xFF01 => "pending",
            0xFE00 => "cancelled",
            0x0110 => "processing failure",
            0x0112 => "no such SOP instance",
            0x0117 => "invalid SOP instance",
            0x0118 => "no such SOP class",
            0x0119 => "class-instance conflict",
            0x0120 => "missing attribute",
            0x0121 => "missing attribute value",
            0x0122 => "SOP class not supported",
            0x0124 => "not authorized",
            0x0106 => "invalid attribute value",
            0x0105 => "no such attribute",
            0x0111 => "duplicate SOP instance",
            0x0211 => "unrecognized operation",
            0x0213 => "resource limitation",
            0xA700..=0xA7FF => "refused: out of resources",
            0xA900..=0xA9FF => "error: data set does not match SOP class",
            0xC000..=0xCFFF => "error: cannot understand",
            _ => "failure",
        };
        write!(f, "0x{:04X} ({meaning})", self.0)
    }
}

/// Why a DIMSE exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The TCP connection could not be made.
    #[error("cannot connect to {peer}: {source}")]
    Connect {
        /// The peer.
        peer: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// The peer rejected the association: permanently (wrong called AE title, unknown calling
    /// AE title: a configuration error) or transiently (busy).
    #[error("{peer} rejected the association{}: {reason}{}",
        if *.permanent { " permanently" } else { " for now" },
        if *.permanent { " (check the AE titles in the configuration and that the peer knows ours)" } else { "" })]
    Rejected {
        /// The peer.
        peer: String,
        /// The rejection's source and reason, e.g. `called AE title not recognized`.
        reason: String,
        /// A permanent rejection (A-ASSOCIATE-RJ result 1): retrying without a change to the
        /// configuration (ours or the peer's) gives the same answer.
        permanent: bool,
    },
    /// The peer accepted the association but none of the contexts we need.
    #[error(
        "{peer} accepted no presentation context for {abstract_syntax} with transfer syntaxes {transfer_syntaxes:?}"
    )]
    NoContext {
        /// The peer.
        peer: String,
        /// The SOP class.
        abstract_syntax: String,
        /// What we proposed.
        transfer_syntaxes: Vec<String>,
    },
    /// No response within the DIMSE timeout.
    #[error("{peer} did not answer within {waited:?}")]
    Timeout {
        /// The peer.
        peer: String,
        /// How long we waited.
        waited: Duration,
    },
    /// The peer aborted or closed the association.
    #[error("{peer} closed the association: {what}")]
    Closed {
        /// The peer.
        peer: String,
        /// What happened.
        what: String,
    },
    /// The peer's application aborted the association in answer to a request (A-ABORT from
    /// the service user) without giving a status. Orthanc answers so to a calling AE title it
    /// does not know; a peer shutting down may do it too, so on its own it is retried.
    #[error("{peer} aborted the association in answer to our request")]
    AbortedByPeer {
        /// The peer.
        peer: String,
    },
    /// The peer broke the protocol (bad command set, unexpected PDU).
    #[error("protocol error with {peer}: {what}")]
    Protocol {
        /// The peer.
        peer: String,
        /// What was wrong.
        what: String,
    },
    /// The request was refused with a failure status. The peer's Error Comment (0000,0902)
    /// is not kept: it is free text that may quote patient data.
    #[error("{peer} answered {operation} with status {status}")]
    Failed {
        /// The peer.
        peer: String,
        /// The DIMSE operation.
        operation: &'static str,
        /// The status.
        status: Status,
    },
}

impl NetError {
    /// Whether retrying later may succeed (network and resource failures), as opposed to a
    /// refusal that will repeat until something is changed (bad data, wrong SOP class).
    pub fn is_transient(&self) -> bool {
        match self {
            NetError::Connect { .. }
            | NetError::Timeout { .. }
            | NetError::Closed { .. }
            | NetError::AbortedByPeer { .. } => true,
            NetError::Rejected { permanent, .. } => !permanent,
            NetError::Failed { status, .. } => status.is_transient_failure(),
            NetError::NoContext { .. } | NetError::Protocol { .. } => false,
        }
    }

    /// Whether the failure comes from the configuration rather than from the data or the
    /// network: a permanent association rejection (wrong AE title, our AE unknown to the
    /// peer). Retrying cannot help until someone changes a configuration.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            NetError::Rejected {
                permanent: true,
                ..
            }
        )
    }
}

// Command field values (PS3.7 §E.1); a response is its request's value with bit 15 set.
pub(crate) const C_STORE_RQ: u16 = 0x0001;
const C_FIND_RQ: u16 = 0x0020;
pub(crate) const C_ECHO_RQ: u16 = 0x0030;
pub(crate) const N_SET_RQ: u16 = 0x0120;
pub(crate) const N_CREATE_RQ: u16 = 0x0140;
/// C-CANCEL-RQ: never answered.
pub(crate) const C_CANCEL_RQ: u16 = 0x0FFF;
/// Command Data Set Type (0000,0800) for "no data set follows".
pub(crate) const NO_DATASET: u16 = 0x0101;
const HAS_DATASET: u16 = 0x0000;

/// A decoded command set: tag (as `group << 16 | element`) to raw value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandSet(BTreeMap<u32, Vec<u8>>);

impl CommandSet {
    pub(crate) fn put_us(&mut self, element: u16, v: u16) -> &mut Self {
        self.0.insert(element as u32, v.to_le_bytes().to_vec());
        self
    }
    /// A UI (or other text) value, padded to even length with NUL as UIDs are.
    pub(crate) fn put_uid(&mut self, element: u16, v: &str) -> &mut Self {
        let mut b = v.as_bytes().to_vec();
        if b.len() % 2 == 1 {
            b.push(0);
        }
        self.0.insert(element as u32, b);
        self
    }
    /// An unsigned short value.
    pub fn us(&self, element: u16) -> Option<u16> {
        let v = self.0.get(&(element as u32))?;
        (v.len() >= 2).then(|| u16::from_le_bytes([v[0], v[1]]))
    }
    /// A text value with padding removed.
    pub fn text(&self, element: u16) -> Option<String> {
        let v = self.0.get(&(element as u32))?;
        Some(
            String::from_utf8_lossy(v)
                .trim_end_matches(['\0', ' '])
                .to_string(),
        )
    }

    /// A text value padded to even length with a space (LO, e.g. Error Comment).
    pub(crate) fn put_text(&mut self, element: u16, v: &str) -> &mut Self {
        let mut b = v.as_bytes().to_vec();
        if b.len() % 2 == 1 {
            b.push(b' ');
        }
        self.0.insert(element as u32, b);
        self
    }

    /// Implicit VR little endian, with (0000,0000) Command Group Length first.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(256);
        for (&tag, value) in &self.0 {
            if tag == 0 {
                continue;
            }
            body.extend_from_slice(&0u16.to_le_bytes());
            body.extend_from_slice(&(tag as u16).to_le_bytes());
            body.extend_from_slice(&(value.len() as u32).to_le_bytes());
            body.extend_from_slice(value);
        }
        let mut out = Vec::with_capacity(body.len() + 12);
        out.extend_from_slice(&[0, 0, 0, 0, 4, 0, 0, 0]);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        let mut pos = 0;
        while pos < bytes.len() {
            if pos + 8 > bytes.len() {
                return Err(format!("command set cut short at byte {pos}"));
            }
            let group = u16::from_le_bytes([bytes[pos], bytes[pos + 1]]);
            let element = u16::from_le_bytes([bytes[pos + 2], bytes[pos + 3]]);
            let len = u32::from_le_bytes([
                bytes[pos + 4],
                bytes[pos + 5],
                bytes[pos + 6],
                bytes[pos + 7],
            ]) as usize;
            if group != 0 {
                return Err(format!(
                    "command set holds group {group:04X}, expected 0000"
                ));
            }
            let end = pos + 8 + len;
            if end > bytes.len() {
                return Err(format!(
                    "command element (0000,{element:04X}) length {len} runs past the end"
                ));
            }
            map.insert(element as u32, bytes[pos + 8..end].to_vec());
            pos = end;
        }
        Ok(Self(map))
    }

    /// The Status (0000,0900), if any.
    pub fn status(&self) -> Option<Status> {
        self.us(0x0900).map(Status)
    }
}

/// A response message: its command set and, when present, its data set bytes.
#[derive(Clone, Debug)]
pub struct Response {
    /// The command set.
    pub command: CommandSet,
    /// The data set in the context's transfer syntax.
    pub dataset: Option<Vec<u8>>,
}

/// One whole DIMSE message as received: its presentation context, command set and data set.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    /// The presentation context it came on.
    pub(crate) pc_id: u8,
    /// The command set.
    pub(crate) command: CommandSet,
    /// The data set bytes in the context's transfer syntax, when the command announces one.
    pub(crate) dataset: Option<Vec<u8>>,
}

/// What [`receive_message`] got: a whole message, or a PDU other than P-DATA (release,
/// abort...), which ends the message exchange.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A command set and its data set, if any.
    Message(Message),
    /// A PDU that is not P-DATA; `mid_message` when part of a message had arrived before it.
    Other {
        /// The PDU.
        pdu: Pdu,
        /// Whether it cut a message short.
        mid_message: bool,
    },
}

/// Why [`receive_message`] failed.
#[derive(Debug)]
pub(crate) enum ReceiveError {
    /// The association layer failed (socket closed, timeout, bad PDU).
    Ul(UlError),
    /// The PDVs do not make a valid message.
    Protocol(String),
}

/// The most data bytes one PDV may carry when the receiver takes PDUs of `max_pdu_length`
/// (0: no limit given; we stay at 1 MiB). A PDV item costs 6 bytes (length, context ID,
/// control header) inside the PDU.
pub(crate) fn max_pdv_data(max_pdu_length: u32) -> usize {
    if max_pdu_length == 0 {
        1 << 20
    } else {
        (max_pdu_length as usize).saturating_sub(6).max(256)
    }
}

/// Sends `bytes` as PDVs of `value_type` on context `pc_id`, `max_pdv` bytes at most each, one
/// PDV per P-DATA PDU, the last one marked last.
pub(crate) fn send_fragments<A: SyncAssociation<TcpStream>>(
    ul: &mut A,
    max_pdv: usize,
    pc_id: u8,
    value_type: PDataValueType,
    bytes: &[u8],
) -> Result<(), UlError> {
    let pdv = |data: &[u8], is_last| Pdu::PData {
        data: vec![PDataValue {
            presentation_context_id: pc_id,
            value_type: value_type.clone(),
            is_last,
            data: data.to_vec(),
        }],
    };
    if bytes.is_empty() {
        return SyncAssociation::send(ul, &pdv(&[], true));
    }
    let mut chunks = bytes.chunks(max_pdv).peekable();
    while let Some(part) = chunks.next() {
        SyncAssociation::send(ul, &pdv(part, chunks.peek().is_none()))?;
    }
    Ok(())
}

/// Sends a command set and its data set, if any, on context `pc_id`.
pub(crate) fn send_message<A: SyncAssociation<TcpStream>>(
    ul: &mut A,
    max_pdv: usize,
    pc_id: u8,
    command: &CommandSet,
    dataset: Option<&[u8]>,
) -> Result<(), UlError> {
    send_fragments(
        ul,
        max_pdv,
        pc_id,
        PDataValueType::Command,
        &command.encode(),
    )?;
    if let Some(data) = dataset {
        send_fragments(ul, max_pdv, pc_id, PDataValueType::Data, data)?;
    }
    Ok(())
}

/// Receives one whole message (command set, then its data set when Command Data Set Type
/// announces one), reassembled from as many PDVs as the sender cut it into. Every PDV of a
/// message must be on the same presentation context, and nothing may follow the message's
/// last PDV in the same PDU (no peer of ours pipelines requests).
pub(crate) fn receive_message<A: SyncAssociation<TcpStream>>(
    ul: &mut A,
) -> Result<Incoming, ReceiveError> {
    let mut command_bytes = Vec::new();
    let mut command: Option<CommandSet> = None;
    let mut data = Vec::new();
    let mut pc: Option<u8> = None;
    loop {
        let values = match SyncAssociation::receive(ul).map_err(ReceiveError::Ul)? {
            Pdu::PData { data } => data,
            pdu => {
                return Ok(Incoming::Other {
                    pdu,
                    mid_message: pc.is_some(),
                });
            }
        };
        let count = values.len();
        for (i, v) in values.into_iter().enumerate() {
            if *pc.get_or_insert(v.presentation_context_id) != v.presentation_context_id {
                return Err(ReceiveError::Protocol(
                    "one message on two presentation contexts".into(),
                ));
            }
            let done = match v.value_type {
                PDataValueType::Command => {
                    if command.is_some() {
                        return Err(ReceiveError::Protocol(
                            "command fragment after the command set ended".into(),
                        ));
                    }
                    command_bytes.extend_from_slice(&v.data);
                    if v.is_last {
                        let c =
                            CommandSet::decode(&command_bytes).map_err(ReceiveError::Protocol)?;
                        let has_dataset = c.us(0x0800) != Some(NO_DATASET);
                        command = Some(c);
                        !has_dataset
                    } else {
                        false
                    }
                }
                PDataValueType::Data => {
                    if command.is_none() {
                        return Err(ReceiveError::Protocol(
                            "data set received before its command".into(),
                        ));
                    }
                    data.extend_from_slice(&v.data);
                    v.is_last
                }
            };
            if done {
                if i + 1 != count {
                    return Err(ReceiveError::Protocol(
                        "more PDVs after the end of a message in the same PDU".into(),
                    ));
                }
                let command = command.take().expect("set above");
                let dataset = (command.us(0x0800) != Some(NO_DATASET)).then_some(data);
                return Ok(Incoming::Message(Message {
                    pc_id: pc.expect("set above"),
                    command,
                    dataset,
                }));
            }
        }
    }
}

/// An established association with a peer.
pub struct Association {
    inner: Option<ClientAssociation<TcpStream>>,
    peer: String,
    accepted: Vec<AcceptedContext>,
    max_pdv_data: usize,
    next_message_id: u16,
    timeout: Duration,
}

impl std::fmt::Debug for Association {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Association")
            .field("peer", &self.peer)
            .field("accepted", &self.accepted)
            .finish()
    }
}

fn map_ul_error(peer: &str, e: UlError, timeout: Duration) -> NetError {
    let peer = peer.to_string();
    match e {
        UlError::Connect { source, .. } => NetError::Connect { peer, source },
        UlError::Rejected { association_rj, .. } => NetError::Rejected {
            peer,
            reason: association_rj.source.to_string(),
            permanent: association_rj.result == AssociationRJResult::Permanent,
        },
        UlError::Aborted { .. } => NetError::Closed {
            peer,
            what: "association aborted (A-ABORT)".into(),
        },
        UlError::ConnectionClosed { .. } => NetError::Closed {
            peer,
            what: "connection closed".into(),
        },
        UlError::Timeout { .. } => NetError::Timeout {
            peer,
            waited: timeout,
        },
        UlError::WireRead { source, .. } | UlError::WireSend { source, .. } => {
            if matches!(source.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                NetError::Timeout {
                    peer,
                    waited: timeout,
                }
            } else {
                NetError::Closed {
                    peer,
                    what: source.to_string(),
                }
            }
        }
        UlError::NoAcceptedPresentationContexts { .. } => NetError::NoContext {
            peer,
            abstract_syntax: "any proposed SOP class".into(),
            transfer_syntaxes: vec![],
        },
        other => {
            // dicom-ul wraps read failures; a timeout shows up as an I/O error inside.
            let text = crate::error_chain(&other);
            if text.contains("timed out")
                || text.contains("Resource temporarily unavailable")
                || text.contains("WouldBlock")
            {
                NetError::Timeout {
                    peer,
                    waited: timeout,
                }
            } else if text.contains("reset")
                || text.contains("closed")
                || text.contains("Broken pipe")
                || text.contains("end of file")
                || text.contains("UnexpectedEof")
            {
                NetError::Closed { peer, what: text }
            } else {
                NetError::Protocol { peer, what: text }
            }
        }
    }
}

impl Association {
    /// Opens an association with `peer`, proposing `contexts`.
    ///
    /// Fails with [`NetError::Rejected`] when the peer refuses us and [`NetError::NoContext`]
    /// when it accepts none of the contexts.
    pub fn open(
        peer: &Peer,
        options: &AssociationOptions,
        contexts: &[ProposedContext],
    ) -> Result<Self, NetError> {
        let label = peer.to_string();
        let mut ul = ClientAssociationOptions::new()
            .calling_ae_title(options.calling_ae_title.clone())
            .called_ae_title(peer.ae_title.clone())
            .max_pdu_length(options.max_pdu_length)
            .read_timeout(options.dimse_timeout)
            .write_timeout(options.dimse_timeout)
            .connection_timeout(options.connect_timeout);
        for c in contexts {
            ul = ul
                .with_presentation_context(c.abstract_syntax.clone(), c.transfer_syntaxes.to_vec());
        }
        let addr = format!("{}:{}", peer.host, peer.port);
        let mut inner = ul
            .establish(addr.as_str())
            .map_err(|e| map_ul_error(&label, e, options.dimse_timeout))?;
        // Nagle + delayed ACK would stall every request/response pair by 40-90 ms.
        let _ = inner.inner_stream().set_nodelay(true);
        let accepted: Vec<AcceptedContext> = inner
            .presentation_contexts()
            .iter()
            .filter(|pc| pc.reason == PresentationContextResultReason::Acceptance)
            .map(|pc| AcceptedContext {
                id: pc.id,
                abstract_syntax: pc.abstract_syntax.trim_end_matches('\0').to_string(),
                transfer_syntax: pc.transfer_syntax.trim_end_matches('\0').to_string(),
            })
            .collect();
        let max_pdv_data = max_pdv_data(inner.acceptor_max_pdu_length());
        Ok(Self {
            inner: Some(inner),
            peer: label,
            accepted,
            max_pdv_data,
            next_message_id: 1,
            timeout: options.dimse_timeout,
        })
    }

    /// The peer as `AE@host:port`.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// The contexts the peer accepted.
    pub fn accepted(&self) -> &[AcceptedContext] {
        &self.accepted
    }

    /// The accepted context for `abstract_syntax` whose transfer syntax comes first in
    /// `preference` (any accepted one when `preference` is empty).
    pub fn context_for(
        &self,
        abstract_syntax: &str,
        preference: &[&str],
    ) -> Result<&AcceptedContext, NetError> {
        let candidates = self
            .accepted
            .iter()
            .filter(|c| c.abstract_syntax == abstract_syntax);
        let found = if preference.is_empty() {
            candidates.into_iter().next()
        } else {
            preference.iter().find_map(|ts| {
                self.accepted
                    .iter()
                    .find(|c| c.abstract_syntax == abstract_syntax && c.transfer_syntax == *ts)
            })
        };
        found.ok_or_else(|| NetError::NoContext {
            peer: self.peer.clone(),
            abstract_syntax: abstract_syntax.to_string(),
            transfer_syntaxes: preference.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn ul(&mut self) -> &mut ClientAssociation<TcpStream> {
        self.inner
            .as_mut()
            .expect("association used after release: a bug")
    }

    fn message_id(&mut self) -> u16 {
        let id = self.next_message_id;
        self.next_message_id = self.next_message_id.wrapping_add(1).max(1);
        id
    }

    fn send_message(
        &mut self,
        pc_id: u8,
        command: &CommandSet,
        dataset: Option<&[u8]>,
    ) -> Result<(), NetError> {
        let (peer, timeout, max_pdv) = (self.peer.clone(), self.timeout, self.max_pdv_data);
        send_message(self.ul(), max_pdv, pc_id, command, dataset)
            .map_err(|e| map_ul_error(&peer, e, timeout))
    }

    /// Receives one whole response message (command set and its data set, if any).
    fn receive_message(&mut self) -> Result<Response, NetError> {
        let (peer, timeout) = (self.peer.clone(), self.timeout);
        match receive_message(self.ul()) {
            Ok(Incoming::Message(m)) => Ok(Response {
                command: m.command,
                dataset: m.dataset,
            }),
            Ok(Incoming::Other { pdu, .. }) => match pdu {
                Pdu::AbortRQ {
                    source: AbortRQSource::ServiceUser,
                } => {
                    self.inner = None;
                    Err(NetError::AbortedByPeer { peer })
                }
                Pdu::AbortRQ { source } => {
                    self.inner = None;
                    Err(NetError::Closed {
                        peer,
                        what: format!("association aborted by {source:?}"),
                    })
                }
                Pdu::ReleaseRQ => Err(NetError::Closed {
                    peer,
                    what: "peer asked to release the association mid-operation".into(),
                }),
                other => Err(NetError::Protocol {
                    peer,
                    what: format!("unexpected PDU {}", other.short_description()),
                }),
            },
            Err(ReceiveError::Ul(e)) => Err(map_ul_error(&peer, e, timeout)),
            Err(ReceiveError::Protocol(what)) => Err(NetError::Protocol { peer, what }),
        }
    }

    fn check_response(
        &self,
        resp: &Response,
        operation: &'static str,
        message_id: u16,
    ) -> Result<Status, NetError> {
        if resp.command.us(0x0120) != Some(message_id) {
            return Err(NetError::Protocol {
                peer: self.peer.clone(),
                what: format!(
                    "{operation} response answers message {:?}, expected {message_id}",
                    resp.command.us(0x0120)
                ),
            });
        }
        let status = resp.command.status().ok_or_else(|| NetError::Protocol {
            peer: self.peer.clone(),
            what: format!("{operation} response has no status"),
        })?;
        Ok(status)
    }

    /// One request with one final response (C-ECHO, C-STORE, N-CREATE, N-SET): fills in the
    /// message ID and data set type, sends, and returns the response when its status is
    /// success or warning; a failure status is an error.
    fn request(
        &mut self,
        operation: &'static str,
        pc_id: u8,
        mut command: CommandSet,
        dataset: Option<&[u8]>,
    ) -> Result<Response, NetError> {
        let id = self.message_id();
        command.put_us(0x0110, id).put_us(
            0x0800,
            if dataset.is_some() {
                HAS_DATASET
            } else {
                NO_DATASET
            },
        );
        self.send_message(pc_id, &command, dataset)?;
        let resp = self.receive_message()?;
        let status = self.check_response(&resp, operation, id)?;
        if status.is_ok() {
            Ok(resp)
        } else {
            Err(self.fail(operation, status))
        }
    }

    fn fail(&self, operation: &'static str, status: Status) -> NetError {
        NetError::Failed {
            peer: self.peer.clone(),
            operation,
            status,
        }
    }

    /// C-ECHO: checks that the peer answers (needs a Verification context).
    pub fn echo(&mut self) -> Result<(), NetError> {
        let pc = self.context_for(VERIFICATION, &[])?.id;
        let mut c = CommandSet::default();
        c.put_uid(0x0002, VERIFICATION).put_us(0x0100, C_ECHO_RQ);
        self.request("C-ECHO", pc, c, None).map(|_| ())
    }

    /// C-STORE of one instance whose data set is already encoded in the transfer syntax of
    /// context `pc_id`. Returns the status (success or warning); failures are errors.
    pub fn c_store(
        &mut self,
        pc_id: u8,
        sop_class_uid: &str,
        sop_instance_uid: &str,
        dataset: &[u8],
    ) -> Result<Status, NetError> {
        let mut c = CommandSet::default();
        c.put_uid(0x0002, sop_class_uid)
            .put_us(0x0100, C_STORE_RQ)
            .put_us(0x0700, 0)
            .put_uid(0x1000, sop_instance_uid);
        let resp = self.request("C-STORE", pc_id, c, Some(dataset))?;
        Ok(resp.command.status().unwrap_or(Status(0)))
    }

    /// C-FIND: sends `identifier` (encoded in the context's transfer syntax) and returns the
    /// matches' data sets in the order received.
    pub fn c_find(
        &mut self,
        pc_id: u8,
        sop_class_uid: &str,
        identifier: &[u8],
    ) -> Result<Vec<Vec<u8>>, NetError> {
        let id = self.message_id();
        let mut c = CommandSet::default();
        c.put_uid(0x0002, sop_class_uid)
            .put_us(0x0100, C_FIND_RQ)
            .put_us(0x0110, id)
            .put_us(0x0700, 0)
            .put_us(0x0800, HAS_DATASET);
        self.send_message(pc_id, &c, Some(identifier))?;
        let mut matches = Vec::new();
        loop {
            let resp = self.receive_message()?;
            let status = self.check_response(&resp, "C-FIND", id)?;
            if status.is_pending() {
                match resp.dataset {
                    Some(d) => matches.push(d),
                    None => {
                        return Err(NetError::Protocol {
                            peer: self.peer.clone(),
                            what: "C-FIND pending response without an identifier".into(),
                        });
                    }
                }
            } else if status.is_ok() {
                return Ok(matches);
            } else {
                return Err(self.fail("C-FIND", status));
            }
        }
    }

    /// N-CREATE of `sop_instance_uid` of `sop_class_uid` with `attributes` (encoded in the
    /// context's transfer syntax).
    pub fn n_create(
        &mut self,
        pc_id: u8,
        sop_class_uid: &str,
        sop_instance_uid: &str,
        attributes: &[u8],
    ) -> Result<Response, NetError> {
        let mut c = CommandSet::default();
        // Affected SOP Class / Instance UID (0000,0002) / (0000,1000).
        c.put_uid(0x0002, sop_class_uid)
            .put_us(0x0100, N_CREATE_RQ)
            .put_uid(0x1000, sop_instance_uid);
        self.request("N-CREATE", pc_id, c, Some(attributes))
    }

    /// N-SET of `sop_instance_uid` with `modifications`.
    pub fn n_set(
        &mut self,
        pc_id: u8,
        sop_class_uid: &str,
        sop_instance_uid: &str,
        modifications: &[u8],
    ) -> Result<Response, NetError> {
        let mut c = CommandSet::default();
        // Requested SOP Class / Instance UID (0000,0003) / (0000,1001).
        c.put_uid(0x0003, sop_class_uid)
            .put_us(0x0100, N_SET_RQ)
            .put_uid(0x1001, sop_instance_uid);
        self.request("N-SET", pc_id, c, Some(modifications))
    }

    /// Releases the association (A-RELEASE). Errors are reported but the socket is closed
    /// either way.
    pub fn release(mut self) -> Result<(), NetError> {
        let (peer, timeout) = (self.peer.clone(), self.timeout);
        match self.inner.take() {
            Some(a) => a.release().map_err(|e| map_ul_error(&peer, e, timeout)),
            None => Ok(()),
        }
    }

    /// Aborts the association (A-ABORT), for use after an error.
    pub fn abort(mut self) {
        if let Some(a) = self.inner.take() {
            let _ = a.abort();
        }
    }
}

impl Drop for Association {
    fn drop(&mut self) {
        if let Some(a) = self.inner.take() {
            let _ = a.abort();
        }
    }
}

/// Opens an association for C-ECHO only and echoes: a connectivity check.
pub fn echo(peer: &Peer, options: &AssociationOptions) -> Result<(), NetError> {
    let mut a = Association::open(
        peer,
        options,
        &[ProposedContext::new(
            VERIFICATION,
            &[crate::part10::IMPLICIT_VR_LE],
        )],
    )?;
    a.echo()?;
    a.release()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_sets_round_trip_with_group_length() {
        let mut c = CommandSet::default();
        c.put_uid(0x0002, "1.2.3")
            .put_us(0x0100, C_ECHO_RQ)
            .put_us(0x0110, 7)
            .put_us(0x0800, NO_DATASET);
        let bytes = c.encode();
        // (0000,0000) UL, length 4, then the group length itself.
        assert_eq!(&bytes[..8], &[0, 0, 0, 0, 4, 0, 0, 0]);
        let group_len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        assert_eq!(group_len, bytes.len() - 12);
        let back = CommandSet::decode(&bytes).unwrap();
        assert_eq!(back.us(0x0110), Some(7));
        assert_eq!(back.text(0x0002).as_deref(), Some("1.2.3"));
        assert!(CommandSet::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn statuses_classify() {
        assert!(Status(0).is_ok());
        assert!(Status(0xB000).is_ok() && Status(0xB000).is_warning());
        assert!(Status(0xFF00).is_pending());
        assert!(Status(0xA700).is_transient_failure());
        assert!(!Status(0xA900).is_transient_failure() && !Status(0xA900).is_ok());
        assert!(Status(0xC123).to_string().contains("cannot understand"));
    }
}
