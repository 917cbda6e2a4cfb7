//! NumPy `.npy` arrays through `ndarray-npy`.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use ndarray::{Array3, ArrayD, Ix3};
use ndarray_npy::{ReadNpyError, ReadNpyExt, WriteNpyExt};

use crate::IoError;

/// Reads a 3D array of float32 or float64 (converted to f32), C or Fortran order.
pub(crate) fn read_array3(path: &Path) -> Result<Array3<f32>, IoError> {
    let bytes = std::fs::read(path).map_err(|e| IoError::os(path, e))?;
    check_announced_size(path, &bytes)?;
    let array = match ArrayD::<f32>::read_npy(&bytes[..]) {
        Ok(a) => a,
        Err(ReadNpyError::WrongDescriptor(_)) => ArrayD::<f64>::read_npy(&bytes[..])
            .map_err(|e| describe(path, e))?
            .mapv(|v| v as f32),
        Err(e) => return Err(describe(path, e)),
    };
    let shape = array.shape().to_vec();
    if shape.len() != 3 || shape.contains(&0) {
        return Err(IoError::Shape {
            path: path.to_path_buf(),
            shape,
            expected: "3 non-empty axes (views, rows, cols) or (z, y, x)".into(),
        });
    }
    let array = array.into_dimensionality::<Ix3>().expect("checked 3 axes");
    // Fortran-ordered files come back as a non-standard layout: make it C order once here.
    Ok(if array.is_standard_layout() {
        array
    } else {
        array.as_standard_layout().into_owned()
    })
}

/// Refuses a file whose header announces more data than the file holds, before `ndarray-npy`
/// allocates for it: a damaged header claiming (100000, 100000, 100000) would otherwise abort
/// the process on allocation instead of giving an error. Headers we cannot read here are left
/// to `ndarray-npy`, which names what is wrong with them.
fn check_announced_size(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let Some((header, data_len)) = split_header(path, bytes)? else {
        return Ok(());
    };
    check_nesting(path, header)?;
    // The element size is the number that ends the descr ('<f4', '<f8', '|u1'); where that
    // cannot be read, one byte keeps the check a lower bound.
    let item: u64 = header
        .split_once("'descr'")
        .and_then(|(_, rest)| rest.split('\'').nth(1))
        .and_then(|d| {
            d.trim_start_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .ok()
        })
        .unwrap_or(1);
    let Some(shape) = header
        .split_once("'shape'")
        .and_then(|(_, rest)| rest.split_once('('))
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inside, _)| inside)
    else {
        return Ok(());
    };
    let mut expected: u128 = item as u128;
    for dim in shape.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let Ok(n) = dim.parse::<u64>() else {
            return Ok(());
        };
        expected = expected.saturating_mul(n as u128);
    }
    if expected > data_len as u128 {
        return Err(IoError::Truncated {
            path: path.to_path_buf(),
            expected: u64::try_from(expected).unwrap_or(u64::MAX),
            found: data_len as u64,
        });
    }
    Ok(())
}

/// The deepest bracket nesting in an array header: a dict holding a shape tuple. Anything
/// deeper is no header of a float array, and `ndarray-npy`'s Python-literal parser takes time
/// exponential in the depth (found by the `npy` fuzz target: a 152-byte file with 18 `{` took
/// a minute).
const MAX_HEADER_NESTING: usize = 2;

fn check_nesting(path: &Path, header: &str) -> Result<(), IoError> {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    for c in header.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '{' | '(' | '[') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, '}' | ')' | ']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_HEADER_NESTING {
        return Err(IoError::header(
            path,
            "header",
            format!(
                "brackets nested {deepest} deep; expected a dict with a shape tuple (at most {MAX_HEADER_NESTING})"
            ),
        ));
    }
    Ok(())
}

/// The header text and the number of bytes after it, for format versions 1 to 3. A header
/// length running past the end of the file is an error here: `ndarray-npy` would allocate it
/// before reading (a version 2 header may announce 4 GiB).
fn split_header<'a>(path: &Path, bytes: &'a [u8]) -> Result<Option<(&'a str, usize)>, IoError> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Ok(None);
    }
    let (len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Ok(None),
    };
    let Some(end) = start.checked_add(len).filter(|&e| e <= bytes.len()) else {
        return Err(IoError::header(
            path,
            "HEADER_LEN",
            format!(
                "{len} bytes, past the end of the file ({} bytes)",
                bytes.len()
            ),
        ));
    };
    let Ok(header) = std::str::from_utf8(&bytes[start..end]) else {
        return Ok(None);
    };
    Ok(Some((header, bytes.len() - end)))
}

fn describe(path: &Path, e: ReadNpyError) -> IoError {
    match e {
        ReadNpyError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => IoError::corrupt(
            path,
            "NumPy",
            "the file ends before the data its header announces",
        ),
        ReadNpyError::WrongDescriptor(d) => IoError::corrupt(
            path,
            "NumPy",
            format!("element type {d:?}; expected float32 or float64"),
        ),
        ReadNpyError::MissingData => IoError::corrupt(
            path,
            "NumPy",
            "the file ends before the data its header announces",
        ),
        other => IoError::corrupt(path, "NumPy", other),
    }
}

/// Writes a float32 array in C order.
pub(crate) fn write_array3(path: &Path, data: &Array3<f32>) -> Result<(), IoError> {
    let file = File::create(path).map_err(|e| IoError::os(path, e))?;
    let mut w = BufWriter::new(file);
    data.write_npy(&mut w).map_err(|e| match e {
        ndarray_npy::WriteNpyError::Io(io) => IoError::os(path, io),
        other => IoError::corrupt(path, "NumPy", other),
    })?;
    std::io::Write::flush(&mut w).map_err(|e| IoError::os(path, e))
}
