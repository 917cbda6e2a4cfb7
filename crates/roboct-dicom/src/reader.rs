//! Reads CT (or any single-frame cross-sectional) series from a folder into volumes, for
//! diagnosis of outside studies: groups files by series, skips what is not an image, sorts
//! slices along the slice normal, checks that they form a regular grid, applies the rescale.

use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_pixeldata::{ConvertOptions, ModalityLutOption, PixelDecoder};
use ndarray::Array3;
use roboct_geometry::vec3::{cross, dot, norm, scale, sub};
use roboct_geometry::{Volume, VolumeGrid};

use roboct_core::Phi;

use crate::ct::PatientPosition;
use crate::part10::text;
use crate::study::Patient;

/// Why a folder or series could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The folder could not be listed.
    #[error("cannot read folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file starts like DICOM but cannot be parsed (truncated, corrupt).
    #[error("corrupt DICOM file {path}: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What failed.
        why: String,
    },
    /// No image series in the folder.
    #[error("no image series in {path} ({files} DICOM files, {non_image} of them not images)")]
    NoSeries {
        /// The folder.
        path: PathBuf,
        /// DICOM files found.
        files: usize,
        /// Of which not images.
        non_image: usize,
    },
    /// Several series and none chosen.
    #[error("{path} holds {} image series; choose one with --series:\n{}", .series.len(), .series.iter().map(|s| format!("  {s}")).collect::<Vec<_>>().join("\n"))]
    SeveralSeries {
        /// The folder.
        path: PathBuf,
        /// The series found.
        series: Vec<SeriesSummary>,
    },
    /// The chosen series is not in the folder.
    #[error("series {uid} is not in {path}; found:\n{}", .series.iter().map(|s| format!("  {s}")).collect::<Vec<_>>().join("\n"))]
    NoSuchSeries {
        /// The UID asked for.
        uid: String,
        /// The folder.
        path: PathBuf,
        /// The series found.
        series: Vec<SeriesSummary>,
    },
    /// A slice lacks the geometry a volume needs.
    #[error("{path}: {attribute} is missing or malformed: the slice has no usable geometry")]
    NoGeometry {
        /// The file.
        path: PathBuf,
        /// The attribute.
        attribute: &'static str,
    },
    /// The slices do not form one regular grid.
    #[error("series {uid} does not form a regular volume: {why}")]
    Irregular {
        /// The series.
        uid: String,
        /// What is inconsistent (files named).
        why: String,
    },
    /// The pixel data could not be decoded.
    #[error("cannot decode the pixel data of {path}: {why}")]
    Pixels {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// A series context file could not be read or written.
    #[error("series context file {path}: {why}")]
    ContextFile {
        /// The file.
        path: PathBuf,
        /// Why (never a patient value).
        why: String,
    },
}

/// One series found in a folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesSummary {
    /// Series Instance UID.
    pub series_instance_uid: String,
    /// Modality.
    pub modality: String,
    /// Series Description.
    pub description: String,
    /// Number of image files.
    pub images: usize,
}

impl std::fmt::Display for SeriesSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} images \"{}\"",
            self.series_instance_uid, self.modality, self.images, self.description
        )
    }
}

/// The patient, study and series attributes of a series read from files, to carry into the
/// series made from it (`roboct import-dicom` keeps them beside the volume, `roboct
/// export-dicom` writes them back), so a derived series belongs to the same patient and study.
/// Patient-identifying values are [`Phi`]: stored, never printed.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeriesContext {
    /// The patient.
    pub patient: Patient,
    /// Study Instance UID (0020,000D).
    pub study_instance_uid: String,
    /// Study ID (0020,0010).
    pub study_id: String,
    /// Study Date (0008,0020).
    pub study_date: String,
    /// Study Time (0008,0030).
    pub study_time: String,
    /// Study Description (0008,1030).
    pub study_description: String,
    /// Accession Number (0008,0050).
    pub accession_number: Phi<String>,
    /// Referring Physician's Name (0008,0090).
    pub referring_physician_name: Phi<String>,
    /// Body Part Examined (0018,0015), empty when the files have none.
    pub body_part: String,
    /// Laterality (0020,0060), empty when the files have none.
    pub laterality: String,
    /// Patient Position (0018,5100), when the files give a known one.
    pub patient_position: Option<PatientPosition>,
    /// Series Description (0008,103E).
    pub series_description: String,
    /// Frame of Reference UID (0020,0052): a derived series shares it, its geometry is the
    /// same.
    pub frame_of_reference_uid: String,
    /// Peak kilovoltage (0018,0060), when given.
    pub kvp: Option<f64>,
}

impl SeriesContext {
    fn from_object(o: &InMemDicomObject) -> Self {
        let t = |tag| text(o, tag).unwrap_or_default();
        Self {
            patient: Patient {
                name: Phi::new(t(tags::PATIENT_NAME)),
                id: Phi::new(t(tags::PATIENT_ID)),
                birth_date: Phi::new(t(tags::PATIENT_BIRTH_DATE)),
                sex: t(tags::PATIENT_SEX),
            },
            study_instance_uid: t(tags::STUDY_INSTANCE_UID),
            study_id: t(tags::STUDY_ID),
            study_date: t(tags::STUDY_DATE),
            study_time: t(tags::STUDY_TIME),
            study_description: t(tags::STUDY_DESCRIPTION),
            accession_number: Phi::new(t(tags::ACCESSION_NUMBER)),
            referring_physician_name: Phi::new(t(tags::REFERRING_PHYSICIAN_NAME)),
            body_part: t(tags::BODY_PART_EXAMINED),
            laterality: t(tags::LATERALITY),
            patient_position: t(tags::PATIENT_POSITION).parse().ok(),
            series_description: t(tags::SERIES_DESCRIPTION),
            frame_of_reference_uid: t(tags::FRAME_OF_REFERENCE_UID),
            kvp: floats(o, tags::KVP).map(|[k]: [f64; 1]| k),
        }
    }
}

/// The format tag of a series context file.
const CONTEXT_FORMAT: &str = "roboct-series-context/1";

/// A series context as `roboct import-dicom` keeps it beside the volume it writes.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContextFile {
    format: String,
    /// The volume's frame: always the patient's (LPS) for a volume read from files.
    frame: crate::ct::VolumeFrame,
    context: SeriesContext,
}

impl SeriesContext {
    /// Where the context of `volume` is kept: beside it, `<volume>.dicom.json`.
    pub fn path_beside(volume: &Path) -> PathBuf {
        let mut name = volume.as_os_str().to_owned();
        name.push(".dicom.json");
        PathBuf::from(name)
    }

    /// Writes the context as JSON (it holds patient data: the file is as private as the
    /// images).
    pub fn write(&self, path: &Path) -> Result<(), ReadError> {
        let file = ContextFile {
            format: CONTEXT_FORMAT.into(),
            frame: crate::ct::VolumeFrame::Patient,
            context: self.clone(),
        };
        let text = serde_json::to_string_pretty(&file).map_err(|e| ReadError::ContextFile {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
        std::fs::write(path, text).map_err(|e| ReadError::ContextFile {
            path: path.to_path_buf(),
            why: e.to_string(),
        })
    }

    /// Reads a context written by [`SeriesContext::write`].
    pub fn read(path: &Path) -> Result<SeriesContext, ReadError> {
        let bad = |why: String| ReadError::ContextFile {
            path: path.to_path_buf(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        // serde's messages quote values only for wrong types and unknown variants, which
        // never hold patient data here (patient fields are strings).
        let file: ContextFile = serde_json::from_str(&text).map_err(|e| {
            bad(format!(
                "not a series context written by roboct import-dicom (line {}, column {}: {})",
                e.line(),
                e.column(),
                match e.classify() {
                    serde_json::error::Category::Syntax => "malformed JSON",
                    serde_json::error::Category::Eof => "truncated",
                    _ => "unexpected fields or values",
                }
            ))
        })?;
        if file.format != CONTEXT_FORMAT {
            return Err(bad(format!(
                "format {:?}; expected {CONTEXT_FORMAT:?}",
                file.format
            )));
        }
        if file.frame != crate::ct::VolumeFrame::Patient {
            return Err(bad("frame must be \"patient\"".into()));
        }
        Ok(file.context)
    }
}

/// What a folder holds.
#[derive(Clone, Debug, Default)]
pub struct FolderScan {
    /// The folder.
    pub root: PathBuf,
    /// The image series.
    pub series: Vec<SeriesSummary>,
    /// Files that are not DICOM (no `DICM` marker), skipped.
    pub not_dicom: Vec<PathBuf>,
    /// DICOM files that are not images (SR, KO, presentation states, DICOMDIR...), skipped.
    pub non_image: Vec<PathBuf>,
    /// Symbolic links to folders, not followed (a link back up the tree would never end).
    pub linked_folders: Vec<PathBuf>,
    images: Vec<ImageHeader>,
    contexts: Vec<SeriesContext>,
}

/// What the volume needs from an image's header, read once by [`scan_folder`].
#[derive(Clone, Debug)]
struct ImageHeader {
    path: PathBuf,
    series_uid: String,
    sop_class_uid: String,
    sop_instance_uid: String,
    frames: u32,
    position: Option<[f64; 3]>,
    orientation: Option<[f64; 6]>,
    pixel_spacing: Option<[f64; 2]>,
    rows: Option<u16>,
    cols: Option<u16>,
    slice_thickness: Option<f64>,
}

/// Files under `dir` (recursively) and the symbolic links to folders met on the way, which
/// are not followed. Links to files are listed like files.
fn list_files(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    linked_folders: &mut Vec<PathBuf>,
) -> Result<(), ReadError> {
    let folder = |source| ReadError::Folder {
        path: dir.to_path_buf(),
        source,
    };
    for e in std::fs::read_dir(dir).map_err(folder)? {
        let e = e.map_err(folder)?;
        let p = e.path();
        // `DirEntry::file_type` does not follow links, unlike `Path::is_dir`.
        let t = e.file_type().map_err(folder)?;
        if t.is_dir() {
            list_files(&p, out, linked_folders)?;
        } else if t.is_symlink() && p.is_dir() {
            linked_folders.push(p);
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Whether `path` is a regular file (links followed) with the `DICM` marker. Anything else
/// (a FIFO, whose opening would wait for a writer forever, a device, a broken link) is not
/// DICOM.
fn has_dicm(path: &Path) -> bool {
    use std::io::Read;
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut head = [0u8; 132];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head[128..132] == b"DICM"
}

fn floats<const N: usize>(o: &InMemDicomObject, tag: dicom_core::Tag) -> Option<[f64; N]> {
    let v = o.element_opt(tag).ok().flatten()?.to_multi_float64().ok()?;
    let v: [f64; N] = v.try_into().ok()?;
    v.iter().all(|x| x.is_finite()).then_some(v)
}

fn is_image(o: &DefaultDicomObject) -> bool {
    let class = text(o, tags::SOP_CLASS_UID).unwrap_or_default();
    let non_image = class.starts_with("1.2.840.10008.5.1.4.1.1.88.")
        || class.starts_with("1.2.840.10008.5.1.4.1.1.11.")
        || class == "1.2.840.10008.1.3.10";
    !non_image
        && o.meta().media_storage_sop_class_uid() != "1.2.840.10008.1.3.10"
        && o.element_opt(tags::ROWS).ok().flatten().is_some()
}

fn header(path: PathBuf, o: &InMemDicomObject) -> ImageHeader {
    let int = |tag| {
        o.element_opt(tag)
            .ok()
            .flatten()
            .and_then(|e| e.to_int::<u16>().ok())
    };
    ImageHeader {
        series_uid: text(o, tags::SERIES_INSTANCE_UID).unwrap_or_default(),
        sop_class_uid: text(o, tags::SOP_CLASS_UID).unwrap_or_default(),
        sop_instance_uid: text(o, tags::SOP_INSTANCE_UID).unwrap_or_default(),
        frames: text(o, tags::NUMBER_OF_FRAMES)
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(1),
        position: floats(o, tags::IMAGE_POSITION_PATIENT),
        orientation: floats(o, tags::IMAGE_ORIENTATION_PATIENT),
        pixel_spacing: floats(o, tags::PIXEL_SPACING)
            .filter(|v: &[f64; 2]| v.iter().all(|&x| x > 0.0)),
        rows: int(tags::ROWS),
        cols: int(tags::COLUMNS),
        slice_thickness: floats(o, tags::SLICE_THICKNESS).map(|[t]: [f64; 1]| t),
        path,
    }
}

/// Lists the image series of `dir` (recursively, not following links to folders), reading
/// headers only.
///
/// Files without the `DICM` marker are skipped as not DICOM; files with it that cannot be
/// parsed are an error naming the file (a truncated slice must not silently vanish from a
/// volume).
pub fn scan_folder(dir: &Path) -> Result<FolderScan, ReadError> {
    let mut paths = Vec::new();
    let mut scan = FolderScan {
        root: dir.to_path_buf(),
        ..FolderScan::default()
    };
    list_files(dir, &mut paths, &mut scan.linked_folders)?;
    paths.sort();
    scan.linked_folders.sort();
    for p in paths {
        if !has_dicm(&p) {
            scan.not_dicom.push(p);
            continue;
        }
        check_lengths(&p)?;
        let o = OpenFileOptions::new()
            .read_until(tags::PIXEL_DATA)
            .open_file(&p)
            .map_err(|e| ReadError::Corrupt {
                path: p.clone(),
                why: e.to_string(),
            })?;
        if !is_image(&o) {
            scan.non_image.push(p);
            continue;
        }
        let h = header(p, &o);
        match scan
            .series
            .iter_mut()
            .find(|s| s.series_instance_uid == h.series_uid)
        {
            Some(s) => s.images += 1,
            None => {
                scan.series.push(SeriesSummary {
                    series_instance_uid: h.series_uid.clone(),
                    modality: text(&o, tags::MODALITY).unwrap_or_default(),
                    description: text(&o, tags::SERIES_DESCRIPTION).unwrap_or_default(),
                    images: 1,
                });
                scan.contexts.push(SeriesContext::from_object(&o));
            }
        }
        scan.images.push(h);
    }
    Ok(scan)
}

/// Checks the element lengths of a Part 10 file against the file before dicom-rs reads it
/// ([`crate::part10::lengths`]): dicom-rs reserves what a length announces, so a damaged length
/// in a small file would make it allocate gigabytes. Headers only; values are stepped over.
fn check_lengths(path: &Path) -> Result<(), ReadError> {
    let corrupt = |why: String| ReadError::Corrupt {
        path: path.to_path_buf(),
        why,
    };
    let file = std::fs::File::open(path).map_err(|e| corrupt(e.to_string()))?;
    let len = file.metadata().map_err(|e| corrupt(e.to_string()))?.len();
    crate::part10::lengths::check_file(
        std::io::BufReader::new(file),
        len,
        crate::part10::memory_available(),
    )
    .map_err(corrupt)
}

/// RLE Lossless Transfer Syntax.
const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

/// Checks what dicom-pixeldata 0.10 would trip on before it decodes: Bits Stored outside 1 to
/// Bits Allocated (its rescale table asserts `1 <= bits_stored <= 32` and has
/// `2^bits_stored` entries), and RLE Lossless fragments (PS3.5 Annex G), whose header and
/// decoded segments it indexes without bounds checks (a short fragment or a segment that
/// decodes to fewer than Rows x Columns bytes panicked). The error says which and what was
/// expected.
fn check_pixel_attributes(obj: &DefaultDicomObject) -> Result<(), String> {
    // The accessor dicom-pixeldata uses, so that both read the same values.
    let uint = |tag| {
        obj.element_opt(tag)
            .ok()
            .flatten()
            .and_then(|e| e.uint16().ok())
    };
    let (Some(rows), Some(cols), Some(bits)) = (
        uint(tags::ROWS),
        uint(tags::COLUMNS),
        uint(tags::BITS_ALLOCATED),
    ) else {
        return Ok(()); // dicom-pixeldata names the missing attribute
    };
    if let Some(stored) = uint(tags::BITS_STORED)
        && !(1..=bits).contains(&stored)
    {
        return Err(format!(
            "Bits Stored (0028,0101) is {stored}; expected 1 to Bits Allocated (0028,0100) ({bits})"
        ));
    }
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0');
    let samples = uint(tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    let Some(fragments) = obj
        .element_opt(tags::PIXEL_DATA)
        .ok()
        .flatten()
        .and_then(|e| e.value().fragments())
    else {
        return Ok(());
    };
    if JPEG_SYNTAXES.contains(&ts) {
        return check_jpeg(fragments, rows, cols, samples, bits);
    }
    if ts != RLE_LOSSLESS {
        return Ok(());
    }
    let pixels = usize::from(rows) * usize::from(cols);
    let segments_needed = usize::from(samples) * usize::from(bits / 8);
    for (f, fragment) in fragments.iter().enumerate() {
        if fragment.len() < 64 {
            return Err(format!(
                "RLE fragment {f} has {} bytes; expected at least its 64-byte header",
                fragment.len()
            ));
        }
        let word = |i: usize| {
            u32::from_le_bytes([
                fragment[4 * i],
                fragment[4 * i + 1],
                fragment[4 * i + 2],
                fragment[4 * i + 3],
            ]) as usize
        };
        let count = word(0);
        if !(segments_needed..=15).contains(&count) {
            return Err(format!(
                "RLE fragment {f} has {count} segments; expected {segments_needed} (Samples per Pixel x Bits Allocated / 8), at most 15"
            ));
        }
        for s in 0..segments_needed {
            let start = word(s + 1);
            let end = if s + 1 < count {
                word(s + 2)
            } else {
                fragment.len()
            };
            let Some(segment) = fragment.get(start..end) else {
                return Err(format!(
                    "RLE fragment {f}, segment {s}: offsets {start}..{end} lie outside its {} bytes",
                    fragment.len()
                ));
            };
            let decoded = packbits_len(segment, pixels);
            if decoded < pixels {
                return Err(format!(
                    "RLE fragment {f}, segment {s} decodes to {decoded} bytes; expected Rows x Columns = {pixels}"
                ));
            }
        }
    }
    Ok(())
}

/// The JPEG transfer syntaxes dicom-pixeldata decodes (baseline, extended, lossless, lossless
/// first-order prediction).
const JPEG_SYNTAXES: [&str; 4] = [
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
];

/// dicom-pixeldata 0.10 copies each decoded JPEG frame into a buffer sized from Rows, Columns,
/// Samples per Pixel and Bits Allocated without comparing the sizes, so a JPEG stream whose
/// frame header (SOF) announces a larger image panicked. Every SOF marker in the fragments
/// (a byte scan: it finds at least the ones the decoder reads) must fit one DICOM frame.
fn check_jpeg(
    fragments: &[Vec<u8>],
    rows: u16,
    cols: u16,
    samples: u16,
    bits: u16,
) -> Result<(), String> {
    let frame_bytes =
        usize::from(rows) * usize::from(cols) * usize::from(samples) * usize::from(bits / 8);
    // The decoder reads the fragments as one stream.
    let data = fragments.concat();
    for i in 0..data.len().saturating_sub(9) {
        // SOF0..SOF15 but DHT (C4), JPG (C8) and DAC (CC).
        let is_sof = data[i] == 0xFF
            && matches!(data[i + 1], 0xC0..=0xCF)
            && !matches!(data[i + 1], 0xC4 | 0xC8 | 0xCC);
        if !is_sof {
            continue;
        }
        let precision = data[i + 4];
        let height = u16::from_be_bytes([data[i + 5], data[i + 6]]);
        let width = u16::from_be_bytes([data[i + 7], data[i + 8]]);
        let components = data[i + 9];
        let decoded = usize::from(width)
            * usize::from(height)
            * usize::from(components)
            * if precision > 8 { 2 } else { 1 };
        if height == 0 || decoded > frame_bytes {
            return Err(format!(
                "the JPEG data holds a {width} x {height} image of {components} components at {precision} bits; expected at most Rows x Columns x Samples per Pixel = {rows} x {cols} x {samples} at {bits} bits allocated"
            ));
        }
    }
    Ok(())
}

/// How many bytes a PackBits segment decodes to (counting stops at `enough`), as
/// dicom-pixeldata decodes it: a run cut short by the end of the segment yields what is there.
fn packbits_len(segment: &[u8], enough: usize) -> usize {
    let (mut i, mut out) = (0, 0);
    while i < segment.len() && out < enough {
        let h = segment[i] as i8;
        i += 1;
        if h >= 0 {
            let n = h as usize + 1;
            out += n.min(segment.len() - i);
            i += n;
        } else if h > -128 {
            if i >= segment.len() {
                break;
            }
            out += (1 - h as isize) as usize;
            i += 1;
        }
    }
    out
}

/// The DICOM files of a folder, for upload: listed by their `DICM` marker, not read yet, so
/// that a folder of any size is read one file at a time ([`read_part10_file`]).
#[derive(Clone, Debug, Default)]
pub struct Part10Listing {
    /// Each DICOM file, in path order.
    pub files: Vec<PathBuf>,
    /// Files without the `DICM` marker, skipped.
    pub not_dicom: Vec<PathBuf>,
    /// Symbolic links to folders, not followed (a link back up the tree would never end).
    pub linked_folders: Vec<PathBuf>,
}

/// Lists the DICOM files under `dir` (recursively, not following links to folders).
pub fn list_part10_files(dir: &Path) -> Result<Part10Listing, ReadError> {
    let mut paths = Vec::new();
    let mut out = Part10Listing::default();
    list_files(dir, &mut paths, &mut out.linked_folders)?;
    paths.sort();
    out.linked_folders.sort();
    for p in paths {
        if has_dicm(&p) {
            out.files.push(p);
        } else {
            out.not_dicom.push(p);
        }
    }
    Ok(out)
}

/// Reads one Part 10 file and checks that it parses completely (meta group and data set), so
/// that a corrupt file is reported by name rather than queued.
pub fn read_part10_file(path: &Path) -> Result<Vec<u8>, ReadError> {
    let bytes = std::fs::read(path).map_err(|e| ReadError::Corrupt {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    crate::part10::decode_part10(&bytes).map_err(|e| ReadError::Corrupt {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    Ok(bytes)
}

/// What every slice of a series must share, and the first file that set it.
struct Frame<'a> {
    iop: [f64; 6],
    spacing: [f64; 2],
    rows: u16,
    cols: u16,
    first: &'a Path,
}

/// A slice placed along the series' normal; its pixels are read only when the volume is
/// filled, one file at a time.
struct Slice<'a> {
    header: &'a ImageHeader,
    position: [f64; 3],
    distance: f64,
}

/// Reads one series of `dir` into a volume of rescaled values (HU for CT), in the patient
/// frame (LPS) of the files.
///
/// With `series_uid` `None` the folder must hold exactly one image series.
pub fn read_series(
    dir: &Path,
    series_uid: Option<&str>,
) -> Result<(Volume, SeriesSummary), ReadError> {
    scan_folder(dir)?.read_series(series_uid)
}

impl FolderScan {
    /// The patient, study and series attributes of a series (from its first file), when the
    /// folder holds it.
    pub fn context(&self, series_uid: &str) -> Option<&SeriesContext> {
        self.series
            .iter()
            .position(|s| s.series_instance_uid == series_uid)
            .map(|i| &self.contexts[i])
    }

    /// The images of a series as [`ImageRef`](crate::sr::ImageRef)s, in the order of the
    /// slices of the volume [`FolderScan::read_series`] makes (along the slice normal), so
    /// that slice `k` of a reading refers to the image it came from. Empty when the folder
    /// does not hold the series, or a slice has no position or orientation.
    pub fn slice_references(&self, series_uid: &str) -> Vec<crate::sr::ImageRef> {
        let mut placed: Vec<(f64, crate::sr::ImageRef)> = Vec::new();
        for h in self.images.iter().filter(|h| h.series_uid == series_uid) {
            let (Some(ipp), Some(iop)) = (h.position, h.orientation) else {
                return Vec::new();
            };
            let n = cross([iop[0], iop[1], iop[2]], [iop[3], iop[4], iop[5]]);
            placed.push((
                dot(ipp, n),
                crate::sr::ImageRef {
                    sop_class_uid: h.sop_class_uid.clone(),
                    sop_instance_uid: h.sop_instance_uid.clone(),
                    series_instance_uid: h.series_uid.clone(),
                },
            ));
        }
        placed.sort_by(|a, b| a.0.total_cmp(&b.0));
        placed.into_iter().map(|(_, r)| r).collect()
    }

    /// Reads one series of the scanned folder into a volume of rescaled values (HU for CT),
    /// in the patient frame (LPS) of the files. The geometry comes from the headers read by
    /// the scan; the pixel data is then read one file at a time, so memory holds the volume
    /// and a single slice.
    ///
    /// With `series_uid` `None` the folder must hold exactly one image series.
    pub fn read_series(
        &self,
        series_uid: Option<&str>,
    ) -> Result<(Volume, SeriesSummary), ReadError> {
        let dir = &self.root;
        let summary = match series_uid {
            Some(uid) => self
                .series
                .iter()
                .find(|s| s.series_instance_uid == uid)
                .cloned()
                .ok_or_else(|| ReadError::NoSuchSeries {
                    uid: uid.to_string(),
                    path: dir.clone(),
                    series: self.series.clone(),
                })?,
            None => match self.series.len() {
                0 => {
                    return Err(ReadError::NoSeries {
                        path: dir.clone(),
                        files: self.images.len() + self.non_image.len(),
                        non_image: self.non_image.len(),
                    });
                }
                1 => self.series[0].clone(),
                _ => {
                    return Err(ReadError::SeveralSeries {
                        path: dir.clone(),
                        series: self.series.clone(),
                    });
                }
            },
        };
        let uid = summary.series_instance_uid.clone();
        let irregular = |why: String| ReadError::Irregular {
            uid: uid.clone(),
            why,
        };
        let mut slices = Vec::new();
        let mut frame: Option<Frame<'_>> = None;
        for h in self.images.iter().filter(|h| h.series_uid == uid) {
            let path = h.path.as_path();
            let no_geo = |attribute| ReadError::NoGeometry {
                path: path.to_path_buf(),
                attribute,
            };
            if h.frames > 1 {
                return Err(irregular(format!(
                    "{} is a multi-frame image; only single-frame series are read",
                    path.display()
                )));
            }
            let ipp = h
                .position
                .ok_or_else(|| no_geo("Image Position (Patient) (0020,0032)"))?;
            let iop = h
                .orientation
                .ok_or_else(|| no_geo("Image Orientation (Patient) (0020,0037)"))?;
            let ps = h
                .pixel_spacing
                .ok_or_else(|| no_geo("Pixel Spacing (0028,0030)"))?;
            let rows = h.rows.ok_or_else(|| no_geo("Rows (0028,0010)"))?;
            let cols = h.cols.ok_or_else(|| no_geo("Columns (0028,0011)"))?;
            let r = [iop[0], iop[1], iop[2]];
            let c = [iop[3], iop[4], iop[5]];
            if (dot(r, r) - 1.0).abs() > 1e-3
                || (dot(c, c) - 1.0).abs() > 1e-3
                || dot(r, c).abs() > 1e-3
            {
                return Err(no_geo(
                    "Image Orientation (Patient) (0020,0037) (not two orthonormal directions)",
                ));
            }
            match &frame {
                None => {
                    frame = Some(Frame {
                        iop,
                        spacing: ps,
                        rows,
                        cols,
                        first: path,
                    })
                }
                Some(f) => {
                    if f.iop.iter().zip(&iop).any(|(a, b)| (a - b).abs() > 1e-4) {
                        return Err(irregular(format!(
                            "{} and {} have different orientations",
                            f.first.display(),
                            path.display()
                        )));
                    }
                    if (f.rows, f.cols) != (rows, cols)
                        || (f.spacing[0] - ps[0]).abs() > 1e-4
                        || (f.spacing[1] - ps[1]).abs() > 1e-4
                    {
                        return Err(irregular(format!(
                            "{} and {} differ in size or pixel spacing",
                            f.first.display(),
                            path.display()
                        )));
                    }
                }
            }
            slices.push(Slice {
                header: h,
                position: ipp,
                distance: dot(ipp, cross(r, c)),
            });
        }
        let Frame {
            iop,
            spacing: ps,
            rows,
            cols,
            ..
        } = frame.expect("a listed series has at least one image");
        let r = [iop[0], iop[1], iop[2]];
        let c = [iop[3], iop[4], iop[5]];
        let n = cross(r, c);
        slices.sort_by(|a, b| a.distance.total_cmp(&b.distance));
        let name = |k: usize| slices[k].header.path.display();
        let dz = if slices.len() > 1 {
            let gaps: Vec<f64> = slices
                .windows(2)
                .map(|w| w[1].distance - w[0].distance)
                .collect();
            let mean = (slices[slices.len() - 1].distance - slices[0].distance) / gaps.len() as f64;
            for (i, g) in gaps.iter().enumerate() {
                if *g < 1e-3 {
                    return Err(irregular(format!(
                        "{} and {} are at the same position (several acquisitions in one series?)",
                        name(i),
                        name(i + 1)
                    )));
                }
                if (g - mean).abs() > 0.01 * mean.max(0.1) {
                    return Err(irregular(format!(
                        "uneven slice spacing: {:.3} mm between {} and {}, {:.3} mm on average (a slice may be missing)",
                        g,
                        name(i),
                        name(i + 1),
                        mean
                    )));
                }
            }
            // Every slice must sit on the line through the first along the normal (no tilt).
            for s in &slices[1..] {
                let d = sub(s.position, slices[0].position);
                let off = sub(d, scale(n, dot(d, n)));
                if norm(off) > 0.01 * mean.max(0.1) {
                    return Err(irregular(format!(
                        "{} is shifted within the slice plane (gantry tilt?): sheared volumes are not supported",
                        s.header.path.display()
                    )));
                }
            }
            mean
        } else {
            slices[0]
                .header
                .slice_thickness
                .filter(|v| *v > 0.0)
                .unwrap_or(1.0)
        };
        let (ny, nx) = (rows as usize, cols as usize);
        // The grid first: it bounds the volume (2^31 voxels), and the machine must hold it,
        // before anything is allocated for what the headers announce.
        // Pixel Spacing is (between rows, between columns): x spacing is the second value.
        let direction = [[r[0], c[0], n[0]], [r[1], c[1], n[1]], [r[2], c[2], n[2]]];
        let grid = VolumeGrid::with_direction(
            [nx, ny, slices.len()],
            [ps[1], ps[0], dz],
            slices[0].position,
            direction,
        )
        .map_err(|e| irregular(e.to_string()))?;
        // The volume as f32, and one slice decoded at a time (at most 8 bytes a pixel).
        let needed = (grid.len() * 4 + nx * ny * 8) as u64;
        let available = crate::part10::memory_available();
        if needed > available {
            return Err(irregular(format!(
                "{} x {} x {} voxels (Rows x Columns x slices) need {:.1} GiB to read; only {:.1} GiB of memory is available",
                nx,
                ny,
                slices.len(),
                needed as f64 / (1u64 << 30) as f64,
                available as f64 / (1u64 << 30) as f64
            )));
        }
        let mut data = Array3::<f32>::zeros((slices.len(), ny, nx));
        let options = ConvertOptions::new().with_modality_lut(ModalityLutOption::Default);
        for (k, s) in slices.iter().enumerate() {
            let path = &s.header.path;
            // One whole file at a time: it is dropped before the next is opened.
            check_lengths(path)?;
            let obj = dicom_object::open_file(path).map_err(|e| ReadError::Corrupt {
                path: path.clone(),
                why: e.to_string(),
            })?;
            check_pixel_attributes(&obj).map_err(|why| ReadError::Pixels {
                path: path.clone(),
                why,
            })?;
            let pixels = obj
                .decode_pixel_data()
                .and_then(|d| d.to_vec_with_options::<f32>(&options))
                .map_err(|e| ReadError::Pixels {
                    path: path.clone(),
                    why: e.to_string(),
                })?;
            if pixels.len() != nx * ny {
                return Err(ReadError::Pixels {
                    path: path.clone(),
                    why: format!("{} values for {rows} x {cols} pixels", pixels.len()),
                });
            }
            data.index_axis_mut(ndarray::Axis(0), k)
                .as_slice_mut()
                .expect("standard layout")
                .copy_from_slice(&pixels);
        }
        let volume = Volume::from_array(grid, data).expect("array made for this grid");
        Ok((volume, summary))
    }
}
