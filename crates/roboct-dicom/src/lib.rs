//! DICOM for roboct.
pub mod bench;
pub mod config;
pub mod ct;
pub mod dimse;
pub mod mpps;
pub mod outbox;
pub mod part10;
pub mod reader;
pub mod send;
pub mod sr;
pub mod study;
pub mod uid;
pub mod upload;
pub mod worklist;
