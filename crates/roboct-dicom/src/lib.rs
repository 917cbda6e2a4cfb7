//! DICOM for roboct.
pub mod ct;
pub mod dimse;
pub mod mpps;
pub mod part10;
pub mod sr;
pub mod study;
pub mod uid;
pub mod worklist;
