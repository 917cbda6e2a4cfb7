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
