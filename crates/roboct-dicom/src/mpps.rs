//! Modality Performed Procedure Step (PS3.4 Annex F): N-CREATE at scan start, N-SET at the end.

/// Modality Performed Procedure Step SOP Class.
pub const MPPS_SOP_CLASS: &str = "1.2.840.10008.3.1.2.3.3";
