//! Element lengths checked against the bytes that hold them, before dicom-rs reads a data set.
//!
//! dicom-rs reserves (and for text, fills) the length an element header announces before it
//! reads the value, so a damaged length in a 1 KB file made it touch up to 4 GB; sequences
//! nested thousands deep make its recursive reader overflow the stack. This walk reads only the
//! headers, in document order (sequence contents are inline: item headers and the elements in
//! them), and refuses a value, item or fragment longer than what remains of the data set, and
//! nesting deeper than [`MAX_DEPTH`]. Anything else odd is left to dicom-rs, which names it.

use std::io::{Read, Seek, SeekFrom};

use dicom_core::Tag;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::header::VR;
use dicom_dictionary_std::{StandardDataDictionary, tags};

use super::{DEFLATED_EXPLICIT_VR_LE, IMPLICIT_VR_LE};

/// Explicit VR Big Endian (retired, still read).
const EXPLICIT_VR_BE: &str = "1.2.840.10008.1.2.2";

/// The most sequences and items open at once (real objects nest a few levels; dicom-rs reads
/// each level with a recursive call).
pub(crate) const MAX_DEPTH: usize = 64;

const UNDEFINED: u32 = 0xFFFF_FFFF;

/// How a data set is encoded, from its transfer syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Explicit VR little endian (also every encapsulated syntax: JPEG, RLE...).
    ExplicitLe,
    /// Implicit VR little endian.
    ImplicitLe,
    /// Explicit VR big endian.
    ExplicitBe,
    /// Deflated explicit VR little endian: inflate first, then walk as [`Encoding::ExplicitLe`].
    Deflated,
}

impl Encoding {
    pub(crate) fn of(ts_uid: &str) -> Self {
        match ts_uid.trim_end_matches(['\0', ' ']) {
            IMPLICIT_VR_LE => Self::ImplicitLe,
            EXPLICIT_VR_BE => Self::ExplicitBe,
            DEFLATED_EXPLICIT_VR_LE => Self::Deflated,
            _ => Self::ExplicitLe,
        }
    }
}

/// Checks the data set of `len` bytes that `r` holds from its current position. `encoding`
/// must not be [`Encoding::Deflated`] (inflate it and pass [`Encoding::ExplicitLe`]).
pub(crate) fn check<R: Read + Seek>(r: R, len: u64, encoding: Encoding) -> Result<(), String> {
    Walker {
        r,
        pos: 0,
        logical: 0,
        len,
        big_endian: encoding == Encoding::ExplicitBe,
        implicit: encoding == Encoding::ImplicitLe,
    }
    .walk()
}

/// Checks a Part 10 file of `len` bytes as dicom-rs's `open_file` reads it, `r` at its start:
/// the 128-byte preamble and `DICM`, the meta group as far as its group length (0002,0000)
/// says (dicom-rs reserves what its elements announce, and takes the transfer syntax from it),
/// then the data set in that transfer syntax; a deflated one is inflated (at most `limit`
/// bytes) to be checked.
pub(crate) fn check_file<R: Read + Seek>(mut r: R, len: u64, limit: u64) -> Result<(), String> {
    const META_START: u64 = 132;
    if len < META_START {
        return Ok(());
    }
    r.seek(SeekFrom::Start(META_START))
        .map_err(|e| e.to_string())?;
    let mut meta = Walker {
        r: &mut r,
        pos: 0,
        logical: 0,
        len: len - META_START,
        big_endian: false,
        implicit: false,
    };
    let (Some((Tag(0x0002, 0x0000), _, 4)), Some(g)) = (meta.header()?, meta.bytes::<4>()?) else {
        return Ok(()); // dicom-rs refuses the meta group
    };
    let group_length = u32::from_le_bytes(g);
    let mut read: u32 = 0;
    let mut ts_uid = String::new();
    while read < group_length {
        let start = meta.pos;
        let Some((tag, _, len)) = meta.header()? else {
            return Ok(());
        };
        if len == UNDEFINED {
            return Ok(());
        }
        let header = (meta.pos - start) as u32;
        if tag == Tag(0x0002, 0x0010) {
            meta.fits(tag, "meta element", len)?;
            let mut v = vec![0u8; len as usize];
            meta.r.read_exact(&mut v).map_err(|e| e.to_string())?;
            meta.pos += u64::from(len);
            ts_uid = String::from_utf8_lossy(&v).into_owned();
        } else {
            meta.value(tag, "meta element", VR::UN, len)?;
        }
        read = read.saturating_add(header).saturating_add(len);
    }
    let dataset = META_START + meta.pos;
    match Encoding::of(&ts_uid) {
        Encoding::Deflated => {
            let mut deflated = Vec::new();
            r.read_to_end(&mut deflated).map_err(|e| e.to_string())?;
            let inflated = inflate(&deflated, limit)?;
            let n = inflated.len() as u64;
            check(std::io::Cursor::new(inflated), n, Encoding::ExplicitLe)
        }
        encoding => check(r, len - dataset, encoding),
    }
}

/// Inflates a deflated data set, refusing to grow past `limit` bytes.
pub(crate) fn inflate(deflated: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(deflated)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| format!("deflated data set: {e}"))?;
    if out.len() as u64 > limit {
        return Err(format!(
            "deflated data set expands beyond {limit} bytes, more than the memory available"
        ));
    }
    Ok(out)
}

struct Walker<R> {
    r: R,
    /// Bytes consumed from the data set.
    pos: u64,
    /// dicom-rs's own count, which sequence and item ends are measured in: it adds a value's
    /// whole length even where it reads less (a US value of odd length, say).
    logical: u64,
    len: u64,
    big_endian: bool,
    implicit: bool,
}

impl<R: Read + Seek> Walker<R> {
    /// `Ok(None)` where the data ends: dicom-rs ends a data set at the end of its bytes too.
    fn bytes<const N: usize>(&mut self) -> Result<Option<[u8; N]>, String> {
        if self.len - self.pos < N as u64 {
            return Ok(None);
        }
        let mut b = [0u8; N];
        self.r.read_exact(&mut b).map_err(|e| e.to_string())?;
        self.pos += N as u64;
        self.logical += N as u64;
        Ok(Some(b))
    }

    fn u16(&self, b: [u8; 2]) -> u16 {
        if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn u32(&self, b: [u8; 4]) -> u32 {
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// Refuses a value longer than what remains, then steps over what dicom-rs reads of it:
    /// binary numbers are read whole (a US value of 3 bytes is one number and 1 byte left
    /// where the next header is then read), everything else to its length.
    fn value(&mut self, tag: Tag, what: &str, vr: VR, len: u32) -> Result<(), String> {
        self.fits(tag, what, len)?;
        let read = match vr {
            VR::AT | VR::FL | VR::OF | VR::SL | VR::OL | VR::UL => len & !3,
            VR::US | VR::OW | VR::SS => len & !1,
            VR::FD | VR::OD | VR::SV | VR::OV | VR::UV => len & !7,
            _ => len,
        };
        // Short values are read through (a seek would empty a `BufReader`'s buffer).
        if read <= 8192 {
            std::io::copy(
                &mut (&mut self.r).take(u64::from(read)),
                &mut std::io::sink(),
            )
            .map_err(|e| e.to_string())?;
        } else {
            self.r
                .seek(SeekFrom::Current(i64::from(read)))
                .map_err(|e| e.to_string())?;
        }
        self.pos += u64::from(read);
        self.logical += u64::from(len);
        Ok(())
    }

    /// An element header as dicom-rs decodes it: tag, VR (from the bytes, or the dictionary in
    /// implicit VR; unknown VRs and item tags read as UN) and length. `None` at the end.
    fn header(&mut self) -> Result<Option<(Tag, VR, u32)>, String> {
        let Some(t) = self.bytes::<4>()? else {
            return Ok(None);
        };
        let tag = Tag(self.u16([t[0], t[1]]), self.u16([t[2], t[3]]));
        // The VR and length as dicom-rs decodes them.
        let (vr, len) = if self.implicit || tag.0 == 0xFFFE {
            // Implicit VR, and item tags in any encoding: no VR, a 4-byte length.
            let Some(l) = self.bytes::<4>()? else {
                return Ok(None);
            };
            let vr = if !self.implicit {
                VR::UN
            } else if tag == tags::PIXEL_DATA || (tag.0 >> 8 == 0x60 && tag.1 == 0x3000) {
                VR::OW
            } else {
                StandardDataDictionary
                    .by_tag(tag)
                    .map(|e| e.vr().relaxed())
                    .unwrap_or(VR::UN)
            };
            (vr, self.u32(l))
        } else {
            let Some(b) = self.bytes::<2>()? else {
                return Ok(None);
            };
            // An unknown VR is read as UN.
            let vr = VR::from_binary(b).unwrap_or(VR::UN);
            // PS3.5 7.1.2: these VRs have a 2-byte length, the others 2 reserved bytes
            // and a 4-byte length.
            let short = matches!(
                vr,
                VR::AE
                    | VR::AS
                    | VR::AT
                    | VR::CS
                    | VR::DA
                    | VR::DS
                    | VR::DT
                    | VR::FL
                    | VR::FD
                    | VR::IS
                    | VR::LO
                    | VR::LT
                    | VR::PN
                    | VR::SH
                    | VR::SL
                    | VR::SS
                    | VR::ST
                    | VR::TM
                    | VR::UI
                    | VR::UL
                    | VR::US
            );
            let len = if short {
                let Some(l) = self.bytes::<2>()? else {
                    return Ok(None);
                };
                u32::from(self.u16(l))
            } else {
                let Some(l) = self.bytes::<6>()? else {
                    return Ok(None);
                };
                self.u32([l[2], l[3], l[4], l[5]])
            };
            (vr, len)
        };
        Ok(Some((tag, vr, len)))
    }

    fn fits(&self, tag: Tag, what: &str, len: u32) -> Result<(), String> {
        let remaining = self.len - self.pos;
        if u64::from(len) > remaining {
            return Err(format!(
                "{what} ({:04X},{:04X}) announces {len} bytes but only {remaining} remain in the data set",
                tag.0, tag.1
            ));
        }
        Ok(())
    }

    /// Follows dicom-rs 0.10's `DataSetReader` state machine (sequence level: item headers;
    /// element level: element headers), so that every length it would allocate is checked.
    fn walk(&mut self) -> Result<(), String> {
        let mut open: Vec<Open> = Vec::new();
        let mut in_sequence = false;
        let push = |open: &mut Vec<Open>, o: Open| {
            open.push(o);
            if open.len() > MAX_DEPTH {
                return Err(format!(
                    "sequences and items nested more than {MAX_DEPTH} deep"
                ));
            }
            Ok(())
        };
        loop {
            // Sequences and items of defined length end where their length says.
            while let Some(top) = open.last() {
                match top.end {
                    Some(end) if self.logical == end => {
                        in_sequence = top.item;
                        open.pop();
                    }
                    // dicom-rs stops with an error here.
                    Some(end) if self.logical > end => return Ok(()),
                    _ => break,
                }
            }
            if in_sequence {
                let (Some(t), Some(l)) = (self.bytes::<4>()?, self.bytes::<4>()?) else {
                    return Ok(());
                };
                let tag = Tag(self.u16([t[0], t[1]]), self.u16([t[2], t[3]]));
                let len = self.u32(l);
                match (tag.0, tag.1) {
                    (0xFFFE, 0xE000) => {
                        let Some(parent) = open.last() else {
                            return Ok(());
                        };
                        let pixel = parent.pixel;
                        in_sequence = false;
                        if len == UNDEFINED {
                            if pixel {
                                return Ok(()); // dicom-rs refuses it
                            }
                            push(&mut open, Open::item(None, false))?;
                        } else {
                            let what = if pixel { "pixel data fragment" } else { "item" };
                            self.fits(tag, what, len)?;
                            push(
                                &mut open,
                                Open::item(Some(self.logical + u64::from(len)), pixel),
                            )?;
                            if pixel {
                                // An offset table or a fragment: read whole by dicom-rs.
                                self.value(tag, what, VR::OB, len)?;
                            }
                        }
                    }
                    (0xFFFE, 0xE00D) => {
                        open.pop();
                        in_sequence = true;
                    }
                    (0xFFFE, 0xE0DD) => {
                        open.pop();
                        in_sequence = false;
                    }
                    _ => return Ok(()), // dicom-rs stops with an error
                }
                continue;
            }
            let Some((tag, vr, len)) = self.header()? else {
                return Ok(());
            };
            if tag == Tag(0xFFFE, 0xE00D) {
                // An item delimiter: outside any sequence dicom-rs skips it.
                if !open.is_empty() {
                    open.pop();
                    in_sequence = true;
                }
                continue;
            }
            if vr == VR::SQ {
                let end = if len == UNDEFINED {
                    None
                } else {
                    self.fits(tag, "sequence", len)?;
                    Some(self.logical + u64::from(len))
                };
                push(&mut open, Open::sequence(end, false))?;
                in_sequence = true;
            } else if len == UNDEFINED {
                // Encapsulated pixel data (fragments follow), or any other element of undefined
                // length, which dicom-rs reads as a sequence.
                push(&mut open, Open::sequence(None, tag == tags::PIXEL_DATA))?;
                in_sequence = true;
            } else {
                self.value(tag, "element", vr, len)?;
            }
        }
    }
}

/// An open sequence or item.
struct Open {
    item: bool,
    /// Where a defined length ends it.
    end: Option<u64>,
    /// Encapsulated pixel data: its items are fragments.
    pixel: bool,
}

impl Open {
    fn sequence(end: Option<u64>, pixel: bool) -> Self {
        Self {
            item: false,
            end,
            pixel,
        }
    }

    fn item(end: Option<u64>, pixel: bool) -> Self {
        Self {
            item: true,
            end,
            pixel,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn explicit(tag: (u16, u16), vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&tag.0.to_le_bytes());
        b.extend_from_slice(&tag.1.to_le_bytes());
        b.extend_from_slice(vr);
        b.extend_from_slice(&(value.len() as u16).to_le_bytes());
        b.extend_from_slice(value);
        b
    }

    fn run(bytes: &[u8], encoding: Encoding) -> Result<(), String> {
        check(Cursor::new(bytes), bytes.len() as u64, encoding)
    }

    #[test]
    fn lengths_past_the_end_are_refused_and_the_rest_passes() {
        let mut ok = explicit((0x0010, 0x0010), b"PN", b"Doe^Jane");
        ok.extend(explicit((0x0028, 0x0010), b"US", &[4, 0]));
        assert_eq!(run(&ok, Encoding::ExplicitLe), Ok(()));
        // A long-form OB element claiming 3.4 GB.
        let mut bad = ok.clone();
        bad.extend_from_slice(&[0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0]);
        bad.extend_from_slice(&3_400_000_000u32.to_le_bytes());
        bad.extend_from_slice(b"tiny");
        let e = run(&bad, Encoding::ExplicitLe).unwrap_err();
        assert!(e.contains("(0009,1010) announces 3400000000 bytes"), "{e}");
        // Implicit VR: the same element without a VR.
        let mut implicit = vec![0x10, 0x00, 0x10, 0x00];
        implicit.extend_from_slice(&60_000u32.to_le_bytes());
        implicit.extend_from_slice(b"Doe^Jane");
        assert!(run(&implicit, Encoding::ImplicitLe).is_err());
        // An unknown VR is read as UN: 2 reserved bytes and a 4-byte length (found by the
        // fuzzer: ".7" with bytes that made a 1.4 GB length).
        let mut unknown = ok.clone();
        unknown.extend_from_slice(&[0x20, 0x00, 0x0E, 0x00, b'.', b'7', 0, 2]);
        unknown.extend_from_slice(&1_392_513_792u32.to_le_bytes());
        let e = run(&unknown, Encoding::ExplicitLe).unwrap_err();
        assert!(e.contains("(0020,000E) announces 1392513792 bytes"), "{e}");
        // So is an element with an item-like tag outside the item tags.
        let mut fffe = ok.clone();
        fffe.extend_from_slice(&[0xFE, 0xFF, 0x00, 0x10]);
        fffe.extend_from_slice(&50_000u32.to_le_bytes());
        assert!(run(&fffe, Encoding::ExplicitLe).is_err());
        // At element level dicom-rs reads an item tag as an element and steps over its value
        // (found by the fuzzer: the element after it claimed 3.7 GB).
        let mut top_item = ok.clone();
        top_item.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 4, 0, 0, 0, 0, 0, 0, 1]);
        top_item.extend_from_slice(&[0x00, 0x00, 0x06, 0xE0, b'N', 0, 0, 0]);
        top_item.extend_from_slice(&3_774_863_615u32.to_le_bytes());
        let e = run(&top_item, Encoding::ExplicitLe).unwrap_err();
        assert!(e.contains("(0000,E006) announces 3774863615 bytes"), "{e}");
        // dicom-rs reads whole numbers of a binary VR and goes on reading headers where that
        // left it: (0028,0002) SL of length 2 reads nothing, so the next header starts 2 bytes
        // early, and its length came from inside a CS value (found by the fuzzer: 1.3 GB).
        let mut odd = explicit((0x0028, 0x0002), b"SL", &[1, 0]);
        odd.extend(explicit((0x0028, 0x0004), b"CS", b"MONOCHROME2 "));
        let e = run(&odd, Encoding::ExplicitLe).unwrap_err();
        assert!(e.contains("(0001,0028) announces 1330446348 bytes"), "{e}");
        // A truncated header is left to dicom-rs.
        assert_eq!(run(&ok[..ok.len() - 3], Encoding::ExplicitLe), Ok(()));
    }

    /// A Part 10 file: preamble, `DICM`, a meta group of `group_length` with a transfer
    /// syntax, then `dataset`.
    fn part10(group_length: u32, ts: &str, dataset: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 128];
        f.extend_from_slice(b"DICM");
        f.extend(explicit(
            (0x0002, 0x0000),
            b"UL",
            &group_length.to_le_bytes(),
        ));
        f.extend(explicit((0x0002, 0x0010), b"UI", ts.as_bytes()));
        f.extend_from_slice(dataset);
        f
    }

    fn run_file(bytes: &[u8]) -> Result<(), String> {
        check_file(Cursor::new(bytes), bytes.len() as u64, 1 << 20)
    }

    #[test]
    fn files_are_read_as_dicom_rs_reads_them() {
        let ts = "1.2.840.10008.1.2.1\0";
        let meta_len = 8 + ts.len() as u32;
        let name = explicit((0x0010, 0x0010), b"PN", b"Doe^Jane");
        assert_eq!(run_file(&part10(meta_len, ts, &name)), Ok(()));
        // The meta group ends where its group length says, so a group length too long reads
        // the data set's first element as a meta element: its length is checked too.
        let mut big = vec![0x09, 0x00, 0x10, 0x00, b'O', b'B', 0, 0];
        big.extend_from_slice(&3_000_000_000u32.to_le_bytes());
        let e = run_file(&part10(meta_len + 100, ts, &big)).unwrap_err();
        assert!(
            e.contains("meta element (0009,0010) announces 3000000000"),
            "{e}"
        );
        // The data set in the meta's transfer syntax: implicit VR here.
        let mut implicit = vec![0x10, 0x00, 0x10, 0x00];
        implicit.extend_from_slice(&60_000u32.to_le_bytes());
        implicit.extend_from_slice(b"Doe^Jane");
        let ts = "1.2.840.10008.1.2\0";
        let e = run_file(&part10(8 + ts.len() as u32, ts, &implicit)).unwrap_err();
        assert!(e.contains("(0010,0010) announces 60000"), "{e}");
        // A deflated data set is inflated, then checked.
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut z, &name).unwrap();
        let deflated = z.finish().unwrap();
        let ts = "1.2.840.10008.1.2.1.99";
        assert!(run_file(&part10(8 + ts.len() as u32, ts, &deflated)).is_ok());
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut z, &big).unwrap();
        let e = run_file(&part10(8 + ts.len() as u32, ts, &z.finish().unwrap())).unwrap_err();
        assert!(e.contains("(0009,0010) announces 3000000000"), "{e}");
    }

    #[test]
    fn items_fragments_and_nesting_are_checked() {
        // (0008,1140) SQ of undefined length, one item of undefined length, a UI inside.
        let mut sq = vec![
            0x08, 0x00, 0x40, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        sq.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        sq.extend(explicit((0x0008, 0x1150), b"UI", b"1.2.3\0"));
        sq.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        sq.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        assert_eq!(run(&sq, Encoding::ExplicitLe), Ok(()));
        // An item claiming more than there is.
        let mut item = vec![
            0x08, 0x00, 0x40, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        item.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        item.extend_from_slice(&1_000_000u32.to_le_bytes());
        let e = run(&item, Encoding::ExplicitLe).unwrap_err();
        assert!(
            e.contains("item (FFFE,E000) announces 1000000 bytes"),
            "{e}"
        );
        // An encapsulated pixel data fragment claiming more than there is.
        let mut px = vec![
            0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        px.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
        px.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        px.extend_from_slice(&70_000u32.to_le_bytes());
        let e = run(&px, Encoding::ExplicitLe).unwrap_err();
        assert!(e.contains("pixel data fragment"), "{e}");
        // Sequences nested deeper than any real object.
        let level = [
            &[
                0x08, 0x00, 0x40, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
            ][..],
            &[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF][..],
        ]
        .concat();
        let deep = level.repeat(MAX_DEPTH);
        let e = run(&deep, Encoding::ExplicitLe).unwrap_err();
        assert!(e.contains("nested more than"), "{e}");
        assert_eq!(
            run(&level.repeat(MAX_DEPTH / 2), Encoding::ExplicitLe),
            Ok(())
        );
    }
}
