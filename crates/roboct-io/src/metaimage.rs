//! MetaImage (`.mha`, `.mhd`), the format of ITK and RTK.
//!
//! A text header of `Key = Value` lines ends with `ElementDataFile`; the data follows in the same
//! file (`LOCAL`, `.mha`) or in the named file beside the header (`.mhd`). We read 3D scalar
//! images of any of the common element types, little or big endian, raw or zlib-compressed,
//! and write float32 little endian, uncompressed. `TransformMatrix` lists the direction matrix
//! column by column (checked against ITK 5.4's writer).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use ndarray::Array3;

use crate::IoError;

/// A 3D MetaImage: values `[z][y][x]` and where they are.
pub(crate) struct Image {
    pub data: Array3<f32>,
    pub spacing: [f64; 3],
    pub origin: [f64; 3],
    /// `direction[r][c]`: column c is the world direction of index axis c.
    pub direction: [[f64; 3]; 3],
}

#[derive(Clone, Copy)]
enum Element {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    F64,
}

impl Element {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "MET_UCHAR" => Self::U8,
            "MET_CHAR" => Self::I8,
            "MET_USHORT" => Self::U16,
            "MET_SHORT" => Self::I16,
            "MET_UINT" => Self::U32,
            "MET_INT" => Self::I32,
            "MET_FLOAT" => Self::F32,
            "MET_DOUBLE" => Self::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Self::U8 | Self::I8 => 1,
            Self::U16 | Self::I16 => 2,
            Self::U32 | Self::I32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    fn decode(self, b: &[u8], msb: bool) -> f32 {
        macro_rules! get {
            ($t:ty, $n:literal) => {{
                let a: [u8; $n] = b.try_into().expect("element size");
                if msb {
                    <$t>::from_be_bytes(a)
                } else {
                    <$t>::from_le_bytes(a)
                }
            }};
        }
        match self {
            Self::U8 => b[0] as f32,
            Self::I8 => b[0] as i8 as f32,
            Self::U16 => get!(u16, 2) as f32,
            Self::I16 => get!(i16, 2) as f32,
            Self::U32 => get!(u32, 4) as f32,
            Self::I32 => get!(i32, 4) as f32,
            Self::F32 => get!(f32, 4),
            Self::F64 => get!(f64, 8) as f32,
        }
    }
}

/// Header text is short; a "header" that runs past this without `ElementDataFile` is not one.
const MAX_HEADER_BYTES: usize = 64 * 1024;

pub(crate) fn read(path: &Path) -> Result<Image, IoError> {
    let file = File::open(path).map_err(|e| IoError::os(path, e))?;
    let file_len = file.metadata().map_err(|e| IoError::os(path, e))?.len();
    let mut reader = BufReader::new(file);

    let mut fields: Vec<(String, String)> = Vec::new();
    let mut header_bytes = 0usize;
    let data_file = loop {
        let mut line = Vec::new();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| IoError::os(path, e))?;
        header_bytes += n;
        if n == 0 || header_bytes > MAX_HEADER_BYTES {
            return Err(IoError::header(
                path,
                "ElementDataFile",
                "missing: the header never says where the data is",
            ));
        }
        // Binary data or junk before `ElementDataFile`: the header is incomplete or this is no
        // MetaImage at all; either way the field that tells where the data is never came.
        let not_header = || {
            IoError::header(
                path,
                "ElementDataFile",
                format!(
                    "missing: header line {} is not `Key = Value` text",
                    fields.len() + 1
                ),
            )
        };
        let line = String::from_utf8(line).map_err(|_| not_header())?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(not_header());
        };
        let (key, value) = (key.trim().to_string(), value.trim().to_string());
        if key == "ElementDataFile" {
            break value;
        }
        fields.push((key, value));
    };
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };

    let ndims: usize = parse_one(path, "NDims", get("NDims"))?;
    if ndims != 3 {
        return Err(IoError::header(
            path,
            "NDims",
            format!("{ndims}; expected 3"),
        ));
    }
    let dims: [usize; 3] = parse_n(path, "DimSize", get("DimSize"))?;
    if dims.contains(&0) {
        return Err(IoError::header(
            path,
            "DimSize",
            format!("{dims:?}; every size must be at least 1"),
        ));
    }
    let spacing: [f64; 3] = match get("ElementSpacing").or(get("ElementSize")) {
        Some(v) => parse_n(path, "ElementSpacing", Some(v))?,
        None => [1.0; 3],
    };
    if let Some(a) = spacing.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(IoError::header(
            path,
            "ElementSpacing",
            format!("value {} is not a size > 0", spacing[a]),
        ));
    }
    let origin: [f64; 3] = match get("Offset").or(get("Origin")).or(get("Position")) {
        Some(v) => parse_n(path, "Offset", Some(v))?,
        None => [0.0; 3],
    };
    let direction = match get("TransformMatrix")
        .or(get("Rotation"))
        .or(get("Orientation"))
    {
        Some(v) => {
            let m: [f64; 9] = parse_n(path, "TransformMatrix", Some(v))?;
            std::array::from_fn(|r| std::array::from_fn(|c| m[3 * c + r]))
        }
        None => [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    };
    let element_name =
        get("ElementType").ok_or_else(|| IoError::header(path, "ElementType", "missing"))?;
    let element = Element::parse(element_name).ok_or_else(|| {
        IoError::header(path, "ElementType", format!("{element_name}; expected MET_FLOAT, MET_DOUBLE, MET_SHORT, MET_USHORT, MET_CHAR, MET_UCHAR, MET_INT or MET_UINT"))
    })?;
    if let Some(ch) = get("ElementNumberOfChannels")
        && ch != "1"
    {
        return Err(IoError::header(
            path,
            "ElementNumberOfChannels",
            format!("{ch}; expected 1 (scalar images)"),
        ));
    }
    let msb = matches!(
        get("BinaryDataByteOrderMSB").or(get("ElementByteOrderMSB")),
        Some("True" | "true" | "1")
    );
    let compressed = matches!(get("CompressedData"), Some("True" | "true" | "1"));
    if let Some(b) = get("BinaryData")
        && !matches!(b, "True" | "true" | "1")
    {
        return Err(IoError::header(
            path,
            "BinaryData",
            format!("{b}; only binary data is supported"),
        ));
    }

    // Checked before anything is allocated: a damaged DimSize must give an error naming it, not
    // an overflow or an allocation that aborts the process.
    let count = dims.iter().map(|&d| d as u128).product::<u128>();
    crate::check_announced(path, "DimSize", &format!("{dims:?}"), count, element.size())?;
    let n = count as usize;
    let want = (n * element.size()) as u64;
    let raw = if data_file == "LOCAL" {
        read_payload(
            path,
            &mut reader,
            file_len - header_bytes as u64,
            want,
            compressed,
        )?
    } else if data_file == "LIST" || data_file.contains('%') {
        return Err(IoError::header(
            path,
            "ElementDataFile",
            format!(
                "{data_file}: lists of slice files are not supported; convert to a single file"
            ),
        ));
    } else {
        let data_path = path.parent().unwrap_or(Path::new(".")).join(&data_file);
        let f = File::open(&data_path).map_err(|e| IoError::os(&data_path, e))?;
        let len = f.metadata().map_err(|e| IoError::os(&data_path, e))?.len();
        read_payload(&data_path, &mut BufReader::new(f), len, want, compressed)?
    };

    let es = element.size();
    let values: Vec<f32> = raw
        .chunks_exact(es)
        .map(|b| element.decode(b, msb))
        .collect();
    let data = Array3::from_shape_vec((dims[2], dims[1], dims[0]), values)
        .map_err(|e| IoError::corrupt(path, "MetaImage", e))?;
    Ok(Image {
        data,
        spacing,
        origin,
        direction,
    })
}

fn read_payload(
    path: &Path,
    reader: &mut impl Read,
    available: u64,
    want: u64,
    compressed: bool,
) -> Result<Vec<u8>, IoError> {
    if compressed {
        // Reserve what the compressed bytes can expand to (zlib's ratio is at most about
        // 1032:1), not what the header claims: a damaged DimSize must give an error, not an
        // allocation failure that aborts the process.
        let mut out = Vec::with_capacity(want.min(available.saturating_mul(1032)) as usize);
        flate2::read::ZlibDecoder::new(reader.take(available))
            .take(want + 1)
            .read_to_end(&mut out)
            .map_err(|e| IoError::corrupt(path, "MetaImage", format!("zlib data: {e}")))?;
        if (out.len() as u64) < want {
            return Err(IoError::Truncated {
                path: path.to_path_buf(),
                expected: want,
                found: out.len() as u64,
            });
        }
        out.truncate(want as usize);
        Ok(out)
    } else {
        if available < want {
            return Err(IoError::Truncated {
                path: path.to_path_buf(),
                expected: want,
                found: available,
            });
        }
        let mut out = vec![0u8; want as usize];
        reader
            .read_exact(&mut out)
            .map_err(|e| IoError::os(path, e))?;
        Ok(out)
    }
}

fn parse_one<T: std::str::FromStr>(
    path: &Path,
    field: &str,
    value: Option<&str>,
) -> Result<T, IoError> {
    let v = value.ok_or_else(|| IoError::header(path, field, "missing"))?;
    v.parse()
        .map_err(|_| IoError::header(path, field, format!("{v:?} is not a number")))
}

fn parse_n<T: std::str::FromStr + Copy + Default, const N: usize>(
    path: &Path,
    field: &str,
    value: Option<&str>,
) -> Result<[T; N], IoError> {
    let v = value.ok_or_else(|| IoError::header(path, field, "missing"))?;
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != N {
        return Err(IoError::header(
            path,
            field,
            format!("{v:?} has {} values; expected {N}", parts.len()),
        ));
    }
    let mut out = [T::default(); N];
    for (o, p) in out.iter_mut().zip(&parts) {
        *o = p
            .parse()
            .map_err(|_| IoError::header(path, field, format!("{p:?} is not a number")))?;
    }
    Ok(out)
}

pub(crate) fn write(path: &Path, image: &Image) -> Result<(), IoError> {
    let (nz, ny, nx) = image.data.dim();
    let d = &image.direction;
    let tm: Vec<String> = (0..3)
        .flat_map(|c| (0..3).map(move |r| fmt(d[r][c])))
        .collect();
    let detached = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("mhd"));
    let raw_name = path.with_extension("raw");
    let data_file = if detached {
        raw_name
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("data.raw")
            .to_string()
    } else {
        "LOCAL".to_string()
    };
    let header = format!(
        "ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\nCompressedData = False\n\
         TransformMatrix = {}\nOffset = {} {} {}\nCenterOfRotation = 0 0 0\nElementSpacing = {} {} {}\n\
         DimSize = {nx} {ny} {nz}\nElementType = MET_FLOAT\nElementDataFile = {data_file}\n",
        tm.join(" "),
        fmt(image.origin[0]),
        fmt(image.origin[1]),
        fmt(image.origin[2]),
        fmt(image.spacing[0]),
        fmt(image.spacing[1]),
        fmt(image.spacing[2]),
    );
    let mut bytes = Vec::with_capacity(image.data.len() * 4);
    for v in image.data.iter() {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let write_file = |p: &Path, parts: &[&[u8]]| -> Result<(), IoError> {
        let mut f = std::io::BufWriter::new(File::create(p).map_err(|e| IoError::os(p, e))?);
        for part in parts {
            f.write_all(part).map_err(|e| IoError::os(p, e))?;
        }
        f.flush().map_err(|e| IoError::os(p, e))
    };
    if detached {
        write_file(&raw_name, &[&bytes])?;
        write_file(path, &[header.as_bytes()])
    } else {
        write_file(path, &[header.as_bytes(), &bytes])
    }
}

/// Shortest text that reads back as the same f64.
fn fmt(v: f64) -> String {
    format!("{v}")
}
