//! DICOM Part 10 files (PS3.10 §7): preamble, `DICM`, file meta group, data set.
//!
//! The outbox stores Part 10 files; the senders read only their meta group (SOP class,
//! instance, transfer syntax) and send the data set bytes as they are, so what reaches the
//! PACS is byte for byte what was written and fsynced.
//!
//! This is the only module whose public functions speak dicom-rs (`InMemDicomObject`): the
//! bridge for callers that make or check data sets with dicom-rs. The worklist, MPPS, CT and
//! SR modules keep their data sets private and take roboct's own types.

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::FileMetaTableBuilder;
/// The dicom-rs data set the encoders and decoders take and return (re-exported so that a
/// caller uses this crate's dicom-rs version).
pub use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use crate::uid::{IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME};

pub(crate) mod lengths;

/// Explicit VR Little Endian, the default transfer syntax we write and send.
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
/// Implicit VR Little Endian, the DICOM default every peer accepts.
pub const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
/// Deflated Explicit VR Little Endian: lossless, compresses the whole data set with zlib.
/// dicom-rs encodes and decodes it (RLE and JPEG lossless it can only decode), and Orthanc and
/// dcmtk accept it, so it is our lossless compressed syntax.
pub const DEFLATED_EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1.99";

/// The syntaxes we write: native (uncompressed) pixel data, so converting between them is
/// lossless. Encapsulated syntaxes (JPEG, JPEG 2000, RLE...) would need a pixel encoder, and
/// some of them lose data.
pub const NATIVE_SYNTAXES: [&str; 3] = [EXPLICIT_VR_LE, IMPLICIT_VR_LE, DEFLATED_EXPLICIT_VR_LE];

/// A file or byte buffer that is not a usable Part 10 object.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part10Error {
    /// No `DICM` magic after the 128-byte preamble.
    #[error("not a DICOM Part 10 file: no `DICM` marker after the 128-byte preamble")]
    NotDicom,
    /// The meta group ends early or has an element we cannot read.
    #[error("corrupt file meta group at byte {offset}: {why}")]
    CorruptMeta {
        /// Byte offset of the problem.
        offset: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// A required meta attribute is missing.
    #[error("file meta group has no {name} {tag}")]
    MissingMeta {
        /// Attribute name.
        name: &'static str,
        /// Its tag, as `(gggg,eeee)`.
        tag: &'static str,
    },
}

/// A data set (or a Part 10 buffer) that cannot be decoded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The file meta group is not usable.
    #[error(transparent)]
    Meta(#[from] Part10Error),
    /// The transfer syntax is not one dicom-rs reads.
    #[error("transfer syntax {0} is not supported")]
    UnknownTransferSyntax(String),
    /// A length or structure that does not fit the bytes, with the element named.
    #[error("{0}")]
    Malformed(String),
    /// dicom-rs could not parse the data set.
    #[error("{0}")]
    Parse(String),
}

/// What the file meta group says about a Part 10 object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part10Info {
    /// Media Storage SOP Class UID (0002,0002).
    pub sop_class_uid: String,
    /// Media Storage SOP Instance UID (0002,0003).
    pub sop_instance_uid: String,
    /// Transfer Syntax UID (0002,0010) of the data set.
    pub transfer_syntax_uid: String,
    /// Byte offset where the data set starts.
    pub dataset_offset: usize,
}

/// Reads the meta group of a Part 10 buffer (explicit VR little endian, PS3.10 §7.1).
pub fn read_part10_info(bytes: &[u8]) -> Result<Part10Info, Part10Error> {
    if bytes.len() < 132 || &bytes[128..132] != b"DICM" {
        return Err(Part10Error::NotDicom);
    }
    let mut pos = 132;
    let (mut class, mut instance, mut ts) = (None, None, None);
    while pos + 8 <= bytes.len() {
        let group = u16::from_le_bytes([bytes[pos], bytes[pos + 1]]);
        if group != 0x0002 {
            break;
        }
        let element = u16::from_le_bytes([bytes[pos + 2], bytes[pos + 3]]);
        let vr = [bytes[pos + 4], bytes[pos + 5]];
        let (len, header) = if matches!(
            &vr,
            b"OB" | b"OW" | b"OF" | b"SQ" | b"UT" | b"UN" | b"UC" | b"UR" | b"OD" | b"OL" | b"OV"
        ) {
            if pos + 12 > bytes.len() {
                return Err(Part10Error::CorruptMeta {
                    offset: pos,
                    why: "element header cut short",
                });
            }
            let l = u32::from_le_bytes([
                bytes[pos + 8],
                bytes[pos + 9],
                bytes[pos + 10],
                bytes[pos + 11],
            ]);
            (l as usize, 12)
        } else if vr.iter().all(|b| b.is_ascii_uppercase()) {
            (
                u16::from_le_bytes([bytes[pos + 6], bytes[pos + 7]]) as usize,
                8,
            )
        } else {
            return Err(Part10Error::CorruptMeta {
                offset: pos,
                why: "meta element without a valid explicit VR",
            });
        };
        let start = pos + header;
        let end = start.checked_add(len).filter(|&e| e <= bytes.len()).ok_or(
            Part10Error::CorruptMeta {
                offset: pos,
                why: "element length runs past the end of the file",
            },
        )?;
        let text = || {
            String::from_utf8_lossy(&bytes[start..end])
                .trim_end_matches(['\0', ' '])
                .to_string()
        };
        match element {
            0x0002 => class = Some(text()),
            0x0003 => instance = Some(text()),
            0x0010 => ts = Some(text()),
            _ => {}
        }
        pos = end;
    }
    Ok(Part10Info {
        sop_class_uid: class.ok_or(Part10Error::MissingMeta {
            name: "Media Storage SOP Class UID",
            tag: "(0002,0002)",
        })?,
        sop_instance_uid: instance.ok_or(Part10Error::MissingMeta {
            name: "Media Storage SOP Instance UID",
            tag: "(0002,0003)",
        })?,
        transfer_syntax_uid: ts.ok_or(Part10Error::MissingMeta {
            name: "Transfer Syntax UID",
            tag: "(0002,0010)",
        })?,
        dataset_offset: pos,
    })
}

/// An object could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The transfer syntax is not one we write ([`NATIVE_SYNTAXES`]).
    #[error(
        "transfer syntax {0} is not supported for writing: roboct writes explicit VR little endian, implicit VR little endian or deflated explicit VR little endian (all lossless)"
    )]
    UnknownTransferSyntax(String),
    /// The object has no SOP Class UID or SOP Instance UID.
    #[error("object has no {0}: cannot write a file meta group")]
    MissingUid(&'static str),
    /// dicom-rs refused to encode the data set.
    #[error("cannot encode the data set: {0}")]
    Encode(String),
}

/// Encodes the data set alone (no meta group) in transfer syntax `ts_uid`, one of
/// [`NATIVE_SYNTAXES`]: any other is refused rather than written with native pixel data under
/// a compressed syntax's name.
///
/// In the explicit VR syntaxes, sequences and items get explicit lengths: dcmtk-based
/// archives (Orthanc among them) store them so, and writing them so ourselves makes the
/// stored file byte-identical to the one in our outbox.
pub fn encode_dataset(obj: &InMemDicomObject, ts_uid: &str) -> Result<Vec<u8>, EncodeError> {
    let encode_with = |uid: &str| -> Result<Vec<u8>, EncodeError> {
        let ts = TransferSyntaxRegistry
            .get(uid)
            .ok_or_else(|| EncodeError::UnknownTransferSyntax(uid.to_string()))?;
        let mut out = Vec::with_capacity(4096);
        obj.write_dataset_with_ts(&mut out, ts)
            .map_err(|e| EncodeError::Encode(e.to_string()))?;
        Ok(out)
    };
    match ts_uid {
        EXPLICIT_VR_LE => to_explicit_lengths(&encode_with(EXPLICIT_VR_LE)?)
            .map_err(|e| EncodeError::Encode(e.to_string())),
        DEFLATED_EXPLICIT_VR_LE => {
            let plain = to_explicit_lengths(&encode_with(EXPLICIT_VR_LE)?)
                .map_err(|e| EncodeError::Encode(e.to_string()))?;
            // PS3.5 §A.5: the whole data set, raw deflate (RFC 1951) without zlib header.
            let mut enc = flate2::write::DeflateEncoder::new(
                Vec::with_capacity(plain.len() / 2),
                flate2::Compression::default(),
            );
            std::io::Write::write_all(&mut enc, &plain)
                .map_err(|e| EncodeError::Encode(e.to_string()))?;
            let mut out = enc
                .finish()
                .map_err(|e| EncodeError::Encode(e.to_string()))?;
            if out.len() % 2 == 1 {
                out.push(0);
            }
            Ok(out)
        }
        IMPLICIT_VR_LE => encode_with(IMPLICIT_VR_LE),
        other => Err(EncodeError::UnknownTransferSyntax(other.to_string())),
    }
}

const UNDEFINED: u32 = 0xFFFF_FFFF;

fn le16(d: &[u8], p: usize) -> Result<u16, String> {
    d.get(p..p + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| format!("data set ends inside an element header at byte {p}"))
}

fn le32(d: &[u8], p: usize) -> Result<u32, String> {
    d.get(p..p + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| format!("data set ends inside an element header at byte {p}"))
}

/// Rewrites an explicit VR little endian data set so that every sequence and item has an
/// explicit length (encapsulated pixel data keeps its undefined length, as it must).
///
/// # Errors
/// [`DecodeError::Malformed`] where the data set ends early or an item is not where expected.
pub fn to_explicit_lengths(data: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut pos = 0;
    rewrite_elements(data, &mut pos, data.len(), false, &mut out)
        .map_err(DecodeError::Malformed)?;
    Ok(out)
}

fn rewrite_elements(
    d: &[u8],
    pos: &mut usize,
    end: usize,
    until_item_end: bool,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    while *pos < end {
        let (g, e) = (le16(d, *pos)?, le16(d, *pos + 2)?);
        if g == 0xFFFE && e == 0xE00D {
            *pos += 8;
            return if until_item_end {
                Ok(())
            } else {
                Err(format!("unexpected item delimiter at byte {}", *pos - 8))
            };
        }
        let vr = d
            .get(*pos + 4..*pos + 6)
            .ok_or("data set ends inside a header")?;
        let long = matches!(
            vr,
            b"OB"
                | b"OD"
                | b"OF"
                | b"OL"
                | b"OV"
                | b"OW"
                | b"SQ"
                | b"SV"
                | b"UC"
                | b"UN"
                | b"UR"
                | b"UT"
                | b"UV"
        );
        let (len, hdr) = if long {
            (le32(d, *pos + 8)?, 12)
        } else {
            (le16(d, *pos + 6)? as u32, 8)
        };
        let header_start = *pos;
        *pos += hdr;
        if vr == b"SQ" {
            let mut body = Vec::new();
            let stop = if len == UNDEFINED {
                None
            } else {
                Some(*pos + len as usize)
            };
            rewrite_items(d, pos, stop, &mut body)?;
            out.extend_from_slice(&d[header_start..header_start + 8]);
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&body);
        } else if len == UNDEFINED {
            // Encapsulated pixel data: fragments up to the sequence delimiter, copied as is.
            loop {
                let (ig, ie, il) = (le16(d, *pos)?, le16(d, *pos + 2)?, le32(d, *pos + 4)?);
                *pos += 8;
                if ig == 0xFFFE && ie == 0xE0DD {
                    break;
                }
                *pos += il as usize;
                if *pos > d.len() {
                    return Err("encapsulated fragment runs past the end".into());
                }
            }
            out.extend_from_slice(&d[header_start..*pos]);
        } else {
            let value_end = *pos + len as usize;
            if value_end > d.len() {
                return Err(format!("element ({g:04X},{e:04X}) runs past the end"));
            }
            out.extend_from_slice(&d[header_start..value_end]);
            *pos = value_end;
        }
    }
    if until_item_end {
        Err("item without its delimiter".into())
    } else {
        Ok(())
    }
}

fn rewrite_items(
    d: &[u8],
    pos: &mut usize,
    stop: Option<usize>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    loop {
        if stop.is_some_and(|s| *pos >= s) {
            return Ok(());
        }
        let (g, e, len) = (le16(d, *pos)?, le16(d, *pos + 2)?, le32(d, *pos + 4)?);
        *pos += 8;
        if g == 0xFFFE && e == 0xE0DD {
            return if stop.is_none() {
                Ok(())
            } else {
                Err("sequence delimiter in a sequence of explicit length".into())
            };
        }
        if !(g == 0xFFFE && e == 0xE000) {
            return Err(format!(
                "expected an item at byte {}, found ({g:04X},{e:04X})",
                *pos - 8
            ));
        }
        let mut item = Vec::new();
        if len == UNDEFINED {
            rewrite_elements(d, pos, d.len(), true, &mut item)?;
        } else {
            let item_end = *pos + len as usize;
            rewrite_elements(d, pos, item_end, false, &mut item)?;
        }
        out.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        out.extend_from_slice(&(item.len() as u32).to_le_bytes());
        out.extend_from_slice(&item);
    }
}

/// Decodes a data set (no meta group) in transfer syntax `ts_uid`.
///
/// Element, item and fragment lengths are checked against the bytes first
/// ([`lengths`]): a damaged length gives an error naming the element instead of an allocation
/// of what it announces. A deflated data set is inflated once here (no further than the memory
/// available) and read as the explicit VR little endian it holds.
///
/// # Errors
/// [`DecodeError`]: an unknown transfer syntax, a length that does not fit, or what dicom-rs
/// cannot parse.
pub fn decode_dataset(bytes: &[u8], ts_uid: &str) -> Result<InMemDicomObject, DecodeError> {
    let ts = TransferSyntaxRegistry
        .get(ts_uid)
        .ok_or_else(|| DecodeError::UnknownTransferSyntax(ts_uid.to_string()))?;
    let encoding = lengths::Encoding::of(ts_uid);
    if encoding == lengths::Encoding::Deflated {
        let inflated =
            lengths::inflate(bytes, memory_available()).map_err(DecodeError::Malformed)?;
        return decode_dataset(&inflated, EXPLICIT_VR_LE);
    }
    lengths::check(std::io::Cursor::new(bytes), bytes.len() as u64, encoding)
        .map_err(DecodeError::Malformed)?;
    InMemDicomObject::read_dataset_with_ts(bytes, ts).map_err(|e| DecodeError::Parse(e.to_string()))
}

/// The most a data set may inflate to: what the machine has available (`MemAvailable`), or
/// 4 GiB where that is unknown.
pub(crate) fn memory_available() -> u64 {
    roboct_core::memory::available_bytes().unwrap_or(4 << 30)
}

/// Encodes `obj` as a complete Part 10 file in `ts_uid`, with our implementation UID.
pub fn encode_part10(obj: &InMemDicomObject, ts_uid: &str) -> Result<Vec<u8>, EncodeError> {
    let text = |tag: Tag, name| -> Result<String, EncodeError> {
        obj.element(tag)
            .ok()
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
            .ok_or(EncodeError::MissingUid(name))
    };
    let class = text(tags::SOP_CLASS_UID, "SOP Class UID (0008,0016)")?;
    let instance = text(tags::SOP_INSTANCE_UID, "SOP Instance UID (0008,0018)")?;
    let dataset = encode_dataset(obj, ts_uid)?;
    wrap_dataset(&class, &instance, ts_uid, None, &dataset)
}

/// A Part 10 file around a data set already encoded in `ts_uid` (as received over the
/// network): preamble, `DICM`, a meta group with our implementation UID and, when given,
/// `source_ae_title` as Source Application Entity Title (0002,0016), then the data set bytes
/// unchanged.
pub fn wrap_dataset(
    sop_class_uid: &str,
    sop_instance_uid: &str,
    ts_uid: &str,
    source_ae_title: Option<&str>,
    dataset: &[u8],
) -> Result<Vec<u8>, EncodeError> {
    let mut meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(sop_class_uid)
        .media_storage_sop_instance_uid(sop_instance_uid)
        .transfer_syntax(ts_uid)
        .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
        .implementation_version_name(IMPLEMENTATION_VERSION_NAME);
    if let Some(ae) = source_ae_title {
        meta = meta.source_application_entity_title(ae);
    }
    let meta = meta
        .build()
        .map_err(|e| EncodeError::Encode(e.to_string()))?;
    let mut out = Vec::with_capacity(dataset.len() + 512);
    out.extend_from_slice(&[0u8; 128]);
    out.extend_from_slice(b"DICM");
    meta.write(&mut out)
        .map_err(|e| EncodeError::Encode(e.to_string()))?;
    out.extend_from_slice(dataset);
    Ok(out)
}

/// Reads a Part 10 buffer into an object (meta group checked, data set decoded).
///
/// # Errors
/// [`DecodeError`] when the meta group or the data set cannot be read.
pub fn decode_part10(bytes: &[u8]) -> Result<(Part10Info, InMemDicomObject), DecodeError> {
    let info = read_part10_info(bytes)?;
    let obj = decode_dataset(&bytes[info.dataset_offset..], &info.transfer_syntax_uid)?;
    Ok((info, obj))
}

/// The text of an attribute with its padding removed (trailing NUL and spaces, leading
/// spaces); `Some("")` when present but empty, `None` when absent or not text.
pub(crate) fn text(o: &InMemDicomObject, tag: Tag) -> Option<String> {
    let e = o.element_opt(tag).ok().flatten()?;
    if e.value().primitive().is_some_and(|v| v.multiplicity() == 0) {
        return Some(String::new());
    }
    e.to_str()
        .ok()
        .map(|s| s.trim_end_matches(['\0', ' ']).trim_start().to_string())
}

/// Shorthand used by the object builders: put a string attribute.
pub(crate) fn put_str(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> InMemDicomObject {
        let mut o = InMemDicomObject::new_empty();
        put_str(
            &mut o,
            tags::SOP_CLASS_UID,
            VR::UI,
            "1.2.840.10008.5.1.4.1.1.7",
        );
        put_str(&mut o, tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4");
        put_str(&mut o, tags::PATIENT_ID, VR::LO, "X");
        let mut item = InMemDicomObject::new_empty();
        put_str(&mut item, tags::REFERENCED_SOP_CLASS_UID, VR::UI, "1.2");
        let mut nested = InMemDicomObject::new_empty();
        put_str(&mut nested, tags::CODE_VALUE, VR::SH, "A");
        crate::study::put_seq(&mut item, tags::CONCEPT_NAME_CODE_SEQUENCE, vec![nested]);
        crate::study::put_seq(
            &mut o,
            tags::REFERENCED_SOP_SEQUENCE,
            vec![item, InMemDicomObject::new_empty()],
        );
        o
    }

    #[test]
    fn sequences_get_explicit_lengths() {
        let bytes = encode_dataset(&sample(), EXPLICIT_VR_LE).unwrap();
        // No undefined length (FFFFFFFF) anywhere: our sample has no encapsulated pixel data.
        assert!(!bytes.windows(4).any(|w| w == [0xFF; 4]));
        assert!(to_explicit_lengths(&bytes[..bytes.len() - 3]).is_err());
    }

    #[test]
    fn part10_round_trip_and_info() {
        for ts in [EXPLICIT_VR_LE, IMPLICIT_VR_LE, DEFLATED_EXPLICIT_VR_LE] {
            let bytes = encode_part10(&sample(), ts).unwrap();
            let info = read_part10_info(&bytes).unwrap();
            assert_eq!(info.sop_instance_uid, "1.2.3.4");
            assert_eq!(info.sop_class_uid, "1.2.840.10008.5.1.4.1.1.7");
            assert_eq!(info.transfer_syntax_uid, ts);
            let (_, back) = decode_part10(&bytes).unwrap();
            assert_eq!(
                back.element(tags::PATIENT_ID).unwrap().to_str().unwrap(),
                "X"
            );
            let seq = back.element(tags::REFERENCED_SOP_SEQUENCE).unwrap();
            assert_eq!(seq.items().unwrap().len(), 2);
        }
    }

    #[test]
    fn broken_files_are_named_errors() {
        assert_eq!(read_part10_info(b"hello"), Err(Part10Error::NotDicom));
        let bytes = encode_part10(&sample(), EXPLICIT_VR_LE).unwrap();
        let cut = &bytes[..150];
        assert!(matches!(
            read_part10_info(cut),
            Err(Part10Error::CorruptMeta { .. } | Part10Error::MissingMeta { .. })
        ));
        assert!(encode_part10(&InMemDicomObject::new_empty(), EXPLICIT_VR_LE).is_err());
    }

    #[test]
    fn only_lossless_native_syntaxes_are_written() {
        // JPEG Baseline (lossy), JPEG Lossless, RLE: all need a pixel encoder we do not have.
        for ts in [
            "1.2.840.10008.1.2.4.50",
            "1.2.840.10008.1.2.4.70",
            "1.2.840.10008.1.2.5",
            "1.2.3.not-a-syntax",
        ] {
            let e = encode_part10(&sample(), ts).unwrap_err();
            assert!(
                matches!(&e, EncodeError::UnknownTransferSyntax(t) if t == ts),
                "{ts}: {e}"
            );
            assert!(e.to_string().contains("lossless"), "{e}");
        }
    }
}
