//! What the mission does about each DICOM error ([`Recover`]), decided in one exhaustive
//! `match` per error type, all in one place so that the classes can be read side by side.
//!
//! A failure [`NetError::is_transient`] calls transient (and a [`SendError`] of kind
//! [`Failure::Transient`]) is [`Recovery::Retry`]; a configuration the peer rejects is
//! [`Recovery::Abort`]; a refusal of this data waits for an operator, as the outbox keeps the
//! refused instance for one.

use roboct_core::{Recover, Recovery};

use crate::config::ConfigError;
use crate::ct::CtError;
use crate::dimse::NetError;
use crate::mpps::MppsError;
use crate::outbox::OutboxError;
use crate::part10::{DecodeError, EncodeError, Part10Error};
use crate::reader::ReadError;
use crate::scp::ScpError;
use crate::send::{Failure, SendError};
use crate::sr::SrError;
use crate::uid::UidError;
use crate::upload::StreamError;
use crate::worklist::WorklistError;

impl Recover for Part10Error {
    fn recovery(&self) -> Recovery {
        match self {
            // The file itself is damaged: reading it again gives the same bytes.
            Part10Error::NotDicom
            | Part10Error::CorruptMeta { .. }
            | Part10Error::MissingMeta { .. } => Recovery::Abort,
        }
    }
}

impl Recover for DecodeError {
    fn recovery(&self) -> Recovery {
        match self {
            DecodeError::Meta(e) => e.recovery(),
            DecodeError::UnknownTransferSyntax(_)
            | DecodeError::Malformed(_)
            | DecodeError::Parse(_) => Recovery::Abort,
        }
    }
}

impl Recover for EncodeError {
    fn recovery(&self) -> Recovery {
        match self {
            EncodeError::UnknownTransferSyntax(_)
            | EncodeError::MissingUid(_)
            | EncodeError::Encode(_) => Recovery::Abort,
        }
    }
}

impl Recover for UidError {
    fn recovery(&self) -> Recovery {
        match self {
            // A UID root is configuration.
            UidError::BadRoot { .. } => Recovery::Abort,
        }
    }
}

impl Recover for CtError {
    fn recovery(&self) -> Recovery {
        match self {
            CtError::NonFinite { .. } | CtError::TooLarge { .. } | CtError::Geometry(_) => {
                Recovery::Abort
            }
            CtError::Encode(e) => e.recovery(),
        }
    }
}

impl Recover for SrError {
    fn recovery(&self) -> Recovery {
        match self {
            SrError::Empty(_) | SrError::BadValue { .. } => Recovery::Abort,
            SrError::Encode(e) => e.recovery(),
        }
    }
}

impl Recover for StreamError {
    fn recovery(&self) -> Recovery {
        match self {
            StreamError::Ct(e) => e.recovery(),
            StreamError::Outbox(e) => e.recovery(),
            StreamError::UploaderPanicked => Recovery::Abort,
        }
    }
}

impl Recover for ReadError {
    fn recovery(&self) -> Recovery {
        match self {
            // A folder that cannot be listed may be a mount that comes back.
            ReadError::Folder { .. } => Recovery::Retry,
            // Someone must say which series, or bring the right folder.
            ReadError::NoSeries { .. }
            | ReadError::SeveralSeries { .. }
            | ReadError::NoSuchSeries { .. } => Recovery::WaitForOperator,
            ReadError::Corrupt { .. }
            | ReadError::NoGeometry { .. }
            | ReadError::Irregular { .. }
            | ReadError::Pixels { .. }
            | ReadError::ContextFile { .. } => Recovery::Abort,
        }
    }
}

impl Recover for NetError {
    fn recovery(&self) -> Recovery {
        // Transient (see `is_transient`) is Retry; a permanent rejection of our association
        // (`is_configuration`) is Abort; a refusal of this data waits for an operator.
        match self {
            NetError::Connect { .. }
            | NetError::Timeout { .. }
            | NetError::Closed { .. }
            | NetError::AbortedByPeer { .. } => Recovery::Retry,
            NetError::Rejected { permanent, .. } => {
                if *permanent {
                    Recovery::Abort
                } else {
                    Recovery::Retry
                }
            }
            NetError::Failed { status, .. } => {
                if status.is_transient_failure() {
                    Recovery::Retry
                } else {
                    Recovery::WaitForOperator
                }
            }
            NetError::NoContext { .. } | NetError::Protocol { .. } => Recovery::WaitForOperator,
        }
    }
}

impl Recover for SendError {
    fn recovery(&self) -> Recovery {
        match self.kind {
            Failure::Transient => Recovery::Retry,
            Failure::Refused => Recovery::WaitForOperator,
            Failure::Configuration => Recovery::Abort,
        }
    }
}

impl Recover for OutboxError {
    fn recovery(&self) -> Recovery {
        match self {
            // A full disk or a held lock may clear.
            OutboxError::Io { .. } | OutboxError::Busy { .. } => Recovery::Retry,
            OutboxError::Conflict { .. } => Recovery::WaitForOperator,
            OutboxError::NotDicom { .. } | OutboxError::BadDestination(_) => Recovery::Abort,
        }
    }
}

impl Recover for ScpError {
    fn recovery(&self) -> Recovery {
        match self {
            // A port in use or a thread limit may free up.
            ScpError::Bind { .. } | ScpError::Thread(_) => Recovery::Retry,
            ScpError::AeTitle { .. } | ScpError::StorageDir { .. } => Recovery::Abort,
        }
    }
}

impl Recover for ConfigError {
    fn recovery(&self) -> Recovery {
        match self {
            ConfigError::Read { .. }
            | ConfigError::Parse { .. }
            | ConfigError::Field { .. }
            | ConfigError::Credential { .. } => Recovery::Abort,
            ConfigError::Uid(e) => e.recovery(),
        }
    }
}

impl Recover for MppsError {
    fn recovery(&self) -> Recovery {
        match self {
            MppsError::Net { source, .. } => source.recovery(),
            MppsError::Encode(_) => Recovery::Abort,
        }
    }
}

impl Recover for WorklistError {
    fn recovery(&self) -> Recovery {
        match self {
            WorklistError::BadQuery(_) => Recovery::Abort,
            WorklistError::Net { source, .. } => source.recovery(),
        }
    }
}

// `UrlError` (config), `ItemError` (worklist) and `BodyPartError` (study) decide theirs
// beside their definitions.

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_is_retry_and_the_rest_is_not() {
        let sends = [
            (Failure::Transient, Recovery::Retry),
            (Failure::Refused, Recovery::WaitForOperator),
            (Failure::Configuration, Recovery::Abort),
        ];
        for (kind, want) in sends {
            let e = SendError {
                kind,
                message: String::new(),
            };
            assert_eq!(e.recovery(), want);
            assert_eq!(e.is_transient(), e.recovery() == Recovery::Retry);
        }
    }
}
