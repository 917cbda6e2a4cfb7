//! Round trips through our own writers, files written by ITK (the library RTK is built on), and
//! every kind of bad file.

use std::path::{Path, PathBuf};

use ndarray::Array3;
use roboct_geometry::{Volume, VolumeGrid};
use roboct_io::{
    DetectorSampling, IoError, ProjectionStack, Window, read_array3, read_projections, read_volume,
    write_png_slice, write_projections, write_volume,
};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The image all golden files hold: value at [z][y][x] = 0.5 (12 z + 4 y + x) - 3.
fn golden_values() -> Array3<f32> {
    Array3::from_shape_fn((2, 3, 4), |(z, y, x)| {
        0.5 * (12 * z + 4 * y + x) as f32 - 3.0
    })
}

fn assert_close(a: [f64; 3], b: [f64; 3], what: &str) {
    for i in 0..3 {
        assert!((a[i] - b[i]).abs() < 1e-5, "{what}: {a:?} != {b:?}");
    }
}

fn check_golden_grid(v: &Volume) {
    let g = v.grid();
    assert_eq!(g.size(), [4, 3, 2]);
    assert_close(g.spacing_mm(), [0.5, 2.0, 3.0], "spacing");
    assert_close(g.origin_mm(), [10.0, -20.0, 30.0], "origin");
    let d = g.direction();
    assert_close(
        [d[0][0], d[1][0], d[2][0]],
        [0.0, 1.0, 0.0],
        "direction of +i",
    );
    assert_close(
        [d[0][1], d[1][1], d[2][1]],
        [-1.0, 0.0, 0.0],
        "direction of +j",
    );
    assert_close(
        [d[0][2], d[1][2], d[2][2]],
        [0.0, 0.0, 1.0],
        "direction of +k",
    );
    // Voxel (1, 2, 1): origin + 0.5 * (+y) + 2 * 2 * (-x) + 3 * (+z).
    assert_close(
        g.world_from_index([1.0, 2.0, 1.0]),
        [6.0, -19.5, 33.0],
        "voxel (1,2,1)",
    );
}

#[test]
fn reads_itk_metaimage_raw_and_zlib() {
    for name in ["itk_rotated.mha", "itk_rotated_zlib.mha"] {
        let v = read_volume(&data(name)).unwrap();
        check_golden_grid(&v);
        assert_eq!(v.data(), &golden_values(), "{name}");
    }
    let v = read_volume(&data("itk_short.mha")).unwrap();
    assert_eq!(v.data(), &golden_values().mapv(|x| (x * 10.0).trunc()));
}

#[test]
fn reads_itk_nifti_at_the_same_place_as_its_metaimage() {
    for name in ["itk_rotated.nii", "itk_rotated.nii.gz"] {
        let v = read_volume(&data(name)).unwrap();
        check_golden_grid(&v);
        assert_eq!(v.data(), &golden_values(), "{name}");
    }
}

#[test]
fn reads_float64_fortran_npy() {
    assert_eq!(
        read_array3(&data("f64_fortran.npy")).unwrap(),
        golden_values()
    );
}

fn oblique_volume() -> Volume {
    let (c, s) = (0.8f64, 0.6f64);
    let dir = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, -1.0]];
    let grid =
        VolumeGrid::with_direction([5, 4, 3], [0.7, 1.1, 2.5], [-12.5, 3.25, 100.0], dir).unwrap();
    let values = Array3::from_shape_fn((3, 4, 5), |(z, y, x)| {
        (z * 100 + y * 10 + x) as f32 * 0.25 - 7.0
    });
    Volume::from_array(grid, values).unwrap()
}

#[test]
fn volumes_round_trip_through_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let v = oblique_volume();
    for name in [
        "v.nii",
        "v.nii.gz",
        "v.mha",
        "v.mhd",
        "V.NII.GZ",
        "recon.v1.nii",
    ] {
        let p = dir.path().join(name);
        write_volume(&p, &v).unwrap();
        let back = read_volume(&p).unwrap();
        assert_eq!(back.data(), v.data(), "{name}");
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            files
                .iter()
                .all(|f| !f.to_string_lossy().starts_with(".roboct-")),
            "{files:?}"
        );
        assert_close(back.grid().spacing_mm(), v.grid().spacing_mm(), name);
        assert_close(back.grid().origin_mm(), v.grid().origin_mm(), name);
        for c in 0..3 {
            let (a, b) = (back.grid().direction(), v.grid().direction());
            assert_close(
                [a[0][c], a[1][c], a[2][c]],
                [b[0][c], b[1][c], b[2][c]],
                name,
            );
        }
    }
    let p = dir.path().join("v.npy");
    write_volume(&p, &v).unwrap();
    assert_eq!(&read_array3(&p).unwrap(), v.data());
    assert!(matches!(read_volume(&p), Err(IoError::NoGeometry { .. })));
}

#[test]
fn projections_round_trip_with_detector_sampling() {
    let dir = tempfile::tempdir().unwrap();
    let stack = ProjectionStack {
        data: Array3::from_shape_fn((3, 2, 5), |(v, r, c)| {
            (v * 10 + r) as f32 + c as f32 * 0.125
        }),
        detector: Some(DetectorSampling {
            pixel_mm: [0.8, 1.2],
            origin_mm: [-1.6, -0.6],
        }),
    };
    let p = dir.path().join("p.mha");
    write_projections(&p, &stack).unwrap();
    assert_eq!(read_projections(&p).unwrap(), stack);
    let p = dir.path().join("p.npy");
    write_projections(&p, &stack).unwrap();
    let back = read_projections(&p).unwrap();
    assert_eq!(back.data, stack.data);
    assert_eq!(back.detector, None);
}

#[test]
fn png_slice_uses_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.png");
    let slice = ndarray::arr2(&[[-1.0f32, 0.0], [0.5, 2.0]]);
    write_png_slice(
        &p,
        slice.view(),
        Window {
            center: 0.5,
            width: 1.0,
        },
    )
    .unwrap();
    let img = image::open(&p).unwrap().into_luma8();
    assert_eq!(img.dimensions(), (2, 1 + 1));
    assert_eq!(img.get_pixel(0, 0).0[0], 0);
    assert_eq!(img.get_pixel(1, 0).0[0], 0);
    assert_eq!(img.get_pixel(0, 1).0[0], 128);
    assert_eq!(img.get_pixel(1, 1).0[0], 255);
}

// ---- bad input ----

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn err_text(e: IoError) -> String {
    e.to_string()
}

#[test]
fn unknown_extensions_are_named() {
    let e = read_volume(Path::new("scan.dcm")).unwrap_err();
    assert!(matches!(e, IoError::UnknownExtension { .. }));
    let t = err_text(e);
    assert!(t.contains("scan.dcm") && t.contains(".nii"), "{t}");
    let e = read_projections(Path::new("p.nii")).unwrap_err();
    assert!(err_text(e).contains(".npy, .mha or .mhd"));
}

#[test]
fn missing_files_name_the_path() {
    let t = err_text(read_volume(Path::new("/nonexistent/v.mha")).unwrap_err());
    assert!(t.contains("/nonexistent/v.mha"), "{t}");
    let t = err_text(read_projections(Path::new("/nonexistent/p.npy")).unwrap_err());
    assert!(t.contains("/nonexistent/p.npy"), "{t}");
}

#[test]
fn truncated_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(data("itk_rotated.mha")).unwrap();
    let p = write(dir.path(), "t.mha", &full[..full.len() - 10]);
    let e = read_volume(&p).unwrap_err();
    assert!(
        matches!(
            e,
            IoError::Truncated {
                expected: 96,
                found: 86,
                ..
            }
        ),
        "{e}"
    );

    let full = std::fs::read(data("itk_rotated_zlib.mha")).unwrap();
    let p = write(dir.path(), "tz.mha", &full[..full.len() - 20]);
    assert!(read_volume(&p).is_err());

    let full = std::fs::read(data("f64_fortran.npy")).unwrap();
    let p = write(dir.path(), "t.npy", &full[..full.len() - 8]);
    let t = err_text(read_projections(&p).unwrap_err());
    assert!(t.contains("t.npy") && t.contains("truncated"), "{t}");

    // A header announcing far more than the file holds: an error, not an attempt to allocate.
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000), }";
    let mut huge = b"\x93NUMPY\x01\x00".to_vec();
    let padded = format!("{header:<117}\n");
    huge.extend_from_slice(&(padded.len() as u16).to_le_bytes());
    huge.extend_from_slice(padded.as_bytes());
    huge.extend_from_slice(&[0; 64]);
    let p = write(dir.path(), "huge.npy", &huge);
    let mut hugez = b"ObjectType = Image\nNDims = 3\nDimSize = 100000 100000 100000\n\
        ElementType = MET_FLOAT\nCompressedData = True\nCompressedDataSize = 11\n\
        ElementDataFile = LOCAL\n"
        .to_vec();
    hugez.extend_from_slice(&[
        0x78, 0x9c, 0x63, 0x60, 0x18, 0x05, 0x00, 0x00, 0x00, 0x40, 0x00,
    ]);
    let pz = write(dir.path(), "hugez.mha", &hugez);
    let t = err_text(read_projections(&pz).unwrap_err());
    assert!(t.contains("hugez.mha"), "{t}");
    let e = read_projections(&p).unwrap_err();
    assert!(
        matches!(
            e,
            IoError::Truncated {
                expected: 4_000_000_000_000_000,
                found: 64,
                ..
            }
        ),
        "{e}"
    );

    for name in ["itk_rotated.nii", "itk_rotated.nii.gz"] {
        let full = std::fs::read(data(name)).unwrap();
        let p = write(dir.path(), &format!("t_{name}"), &full[..full.len() - 30]);
        let t = err_text(read_volume(&p).unwrap_err());
        assert!(t.contains(&format!("t_{name}")), "{t}");
    }
}

#[test]
fn corrupt_headers_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str); 6] = [
        (
            "NDims = 2\nDimSize = 2 2\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n",
            "NDims",
        ),
        (
            "NDims = 3\nDimSize = 2 2\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n",
            "DimSize",
        ),
        (
            "NDims = 3\nDimSize = 2 2 0\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n",
            "DimSize",
        ),
        (
            "NDims = 3\nDimSize = 1 1 1\nElementType = MET_COMPLEX\nElementDataFile = LOCAL\n",
            "ElementType",
        ),
        (
            "NDims = 3\nDimSize = 1 1 1\nElementSpacing = 1 -1 1\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n",
            "ElementSpacing",
        ),
        (
            "NDims = 3\nDimSize = 1 1 1\nElementType = MET_FLOAT\n",
            "ElementDataFile",
        ),
    ];
    for (i, (header, field)) in cases.iter().enumerate() {
        let mut bytes = header.as_bytes().to_vec();
        bytes.extend_from_slice(&[0u8; 64]);
        let p = write(dir.path(), &format!("c{i}.mha"), &bytes);
        let t = err_text(read_volume(&p).unwrap_err());
        assert!(
            t.contains(field) && t.contains(&format!("c{i}.mha")),
            "case {i}: {t}"
        );
    }
    let p = write(
        dir.path(),
        "garbage.mha",
        &[0xff, 0xfe, 0x00, 0x12, b'\n', 0x80],
    );
    assert!(read_volume(&p).is_err());
    let p = write(
        dir.path(),
        "garbage.nii",
        b"this is not a nifti file at all, just some text",
    );
    let t = err_text(read_volume(&p).unwrap_err());
    assert!(t.contains("garbage.nii"), "{t}");
    let p = write(dir.path(), "garbage.npy", b"\x93NUMPY\x01\x00garbage");
    assert!(err_text(read_projections(&p).unwrap_err()).contains("garbage.npy"));
}

#[test]
fn wrong_shapes_and_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("2d.npy");
    ndarray_npy::write_npy(&p, &ndarray::Array2::<f32>::zeros((3, 4))).unwrap();
    let e = read_projections(&p).unwrap_err();
    assert!(matches!(e, IoError::Shape { .. }), "{e}");
    let p = dir.path().join("int.npy");
    ndarray_npy::write_npy(&p, &ndarray::Array3::<i64>::zeros((2, 2, 2))).unwrap();
    assert!(err_text(read_projections(&p).unwrap_err()).contains("float32 or float64"));
    let p = dir.path().join("nan.npy");
    let mut a = Array3::<f32>::zeros((2, 2, 2));
    a[[1, 0, 1]] = f32::NAN;
    ndarray_npy::write_npy(&p, &a).unwrap();
    assert!(matches!(
        read_projections(&p).unwrap_err(),
        IoError::NotFinite {
            count: 1,
            first: 5,
            ..
        }
    ));
}

// ---- announced sizes (issue 11: no file makes the reader allocate beyond what it announces) ----

/// A valid little-endian NIfTI-1 file of 2 x 2 x 2 float32 voxels, to patch.
fn small_nifti(dir: &Path) -> Vec<u8> {
    let grid = VolumeGrid::new([2, 2, 2], [1.0; 3], [0.0; 3]).unwrap();
    let volume = Volume::from_array(grid, Array3::from_elem((2, 2, 2), 1.0)).unwrap();
    let p = dir.join("small.nii");
    write_volume(&p, &volume).unwrap();
    std::fs::read(&p).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, bytes).unwrap();
    e.finish().unwrap()
}

/// NIfTI-1 `dim[i]` is an i16 at byte 40 + 2 i.
fn set_dim(bytes: &mut [u8], i: usize, value: i16) {
    bytes[40 + 2 * i..42 + 2 * i].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn gzipped_nifti_is_not_decompressed_beyond_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let small = small_nifti(dir.path());
    // As written, it reads back.
    let p = write(dir.path(), "ok.nii.gz", &gzip(&small));
    assert_eq!(read_volume(&p).unwrap().data().len(), 8);
    // 32 bytes of voxels announced, 16 MiB of zeros behind them: a gzip bomb, refused after
    // at most the announced bytes (the reader used to inflate all of it).
    let mut bomb = small.clone();
    bomb.resize(small.len() + (16 << 20), 0);
    let p = write(dir.path(), "bomb.nii.gz", &gzip(&bomb));
    let t = err_text(read_volume(&p).unwrap_err());
    assert!(
        t.contains("bomb.nii.gz") && t.contains("expands beyond") && t.contains("announces"),
        "{t}"
    );
}

#[test]
fn nifti_announcing_more_than_it_holds_is_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let small = small_nifti(dir.path());
    // 30000^3 float32 voxels (100 GiB) in a file of 384 bytes: the size bound, by field.
    let mut huge = small.clone();
    for i in 1..=3 {
        set_dim(&mut huge, i, 30000);
    }
    for name in ["huge.nii", "huge.nii.gz"] {
        let bytes = if name.ends_with(".gz") {
            gzip(&huge)
        } else {
            huge.clone()
        };
        let t = err_text(read_volume(&write(dir.path(), name, &bytes)).unwrap_err());
        assert!(
            t.contains(name) && t.contains("header field dim") && t.contains("2^31"),
            "{t}"
        );
    }
    // 200^3 voxels (32 MB) announced, 32 bytes present: truncated, found before allocating.
    let mut short = small.clone();
    for i in 1..=3 {
        set_dim(&mut short, i, 200);
    }
    let e = read_volume(&write(dir.path(), "short.nii", &short)).unwrap_err();
    assert!(
        matches!(
            e,
            IoError::Truncated {
                expected: 32_000_000,
                found: 32,
                ..
            }
        ),
        "{e}"
    );
    // bitpix disagreeing with datatype (float32) would make the crate read the wrong amount.
    let mut bitpix = small.clone();
    bitpix[72..74].copy_from_slice(&8i16.to_le_bytes());
    let t = err_text(read_volume(&write(dir.path(), "bitpix.nii", &bitpix)).unwrap_err());
    assert!(t.contains("header field bitpix"), "{t}");
}

/// Issue 11: `DimSize = 4294967296 4294967296 1` overflowed the size product (a panic in debug
/// builds, a wrapped size and a failed `expect` in release).
#[test]
fn metaimage_dim_size_overflow_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (i, dims) in [
        "4294967296 4294967296 1",
        "65536 65536 65536",
        "100000 100000 1",
    ]
    .iter()
    .enumerate()
    {
        let mut bytes = format!(
            "ObjectType = Image\nNDims = 3\nDimSize = {dims}\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n"
        )
        .into_bytes();
        bytes.extend_from_slice(&[0u8; 64]);
        let p = write(dir.path(), &format!("dims{i}.mha"), &bytes);
        for e in [
            read_volume(&p).unwrap_err(),
            read_projections(&p).unwrap_err(),
        ] {
            let t = err_text(e);
            assert!(
                t.contains(&format!("dims{i}.mha"))
                    && t.contains("header field DimSize")
                    && t.contains("at most 2^31"),
                "{t}"
            );
        }
    }
}

/// Issue 11 (found by the `npy` fuzz target): a version 2 header whose HEADER_LEN field claims
/// 1.3 GB made `ndarray-npy` allocate it before reading (a 100-byte file).
#[test]
fn npy_header_length_past_the_end_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (version, len_field) in [
        (2u8, &b"NNNN"[..]),
        (3, &[0xff, 0xff, 0xff, 0xff][..]),
        (1, &[0xff, 0xff][..]),
    ] {
        let mut bytes = b"\x93NUMPY".to_vec();
        bytes.extend_from_slice(&[version, 0]);
        bytes.extend_from_slice(len_field);
        bytes
            .extend_from_slice(b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }\n");
        let p = write(dir.path(), &format!("v{version}.npy"), &bytes);
        for e in [
            read_projections(&p).unwrap_err(),
            read_array3(&p).unwrap_err(),
        ] {
            let t = err_text(e);
            assert!(
                t.contains(&format!("v{version}.npy")) && t.contains("header field HEADER_LEN"),
                "{t}"
            );
        }
    }
}

/// Issue 11 (found by the `npy` fuzz target): `ndarray-npy` parses the header as a Python
/// literal in time exponential in its bracket nesting; 18 `{` in a 152-byte file took a minute.
#[test]
fn npy_headers_nested_deeply_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}2, 3, 4), }}",
        "{".repeat(40)
    );
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let padded = format!("{header:<127}\n");
    bytes.extend_from_slice(&(padded.len() as u16).to_le_bytes());
    bytes.extend_from_slice(padded.as_bytes());
    bytes.extend_from_slice(&[0u8; 96]);
    let p = write(dir.path(), "nested.npy", &bytes);
    let start = std::time::Instant::now();
    let t = err_text(read_projections(&p).unwrap_err());
    assert!(
        t.contains("nested.npy") && t.contains("header field header: brackets nested 42 deep"),
        "{t}"
    );
    assert!(start.elapsed().as_secs_f64() < 1.0, "{:?}", start.elapsed());
    // A plain header still reads.
    let ok = write(
        dir.path(),
        "ok.npy",
        &std::fs::read(data("f64_fortran.npy")).unwrap(),
    );
    read_projections(&ok).unwrap();
}
