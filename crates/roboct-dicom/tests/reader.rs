//! Folder -> volume: our own series round-trip exactly; an outside series written by pydicom
//! (implicit VR, unsigned pixels, slope and intercept, reversed slice order) reads correctly;
//! several series, non-image objects, corrupt files, missing slices and missing geometry.

mod common;

use std::path::Path;

use common::*;
use ndarray::Array3;
use roboct_dicom::ct::{CtSeriesInfo, CtSeriesWriter, Instance, VoxelUnits};
use roboct_dicom::reader::{ReadError, read_series, scan_folder};
use roboct_dicom::study::StudyContext;
use roboct_dicom::uid::UidGenerator;
use roboct_geometry::{Volume, VolumeGrid};

fn volume(nz: usize, tilt_deg: f64) -> Volume {
    let (c, s) = (tilt_deg.to_radians().cos(), tilt_deg.to_radians().sin());
    // Rotation about x: an oblique stack.
    let dir = [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]];
    let grid =
        VolumeGrid::with_direction([12, 10, nz], [0.7, 0.9, 2.5], [-5.0, 3.0, -40.0], dir).unwrap();
    let data = Array3::from_shape_fn((nz, 10, 12), |(z, y, x)| {
        (z * 100 + y * 12 + x) as f32 - 1024.0
    });
    Volume::from_array(grid, data).unwrap()
}

fn write_series(dir: &Path, v: &Volume, prefix: &str) -> Vec<Instance> {
    let uids = UidGenerator::default();
    let w = CtSeriesWriter::new(
        StudyContext::unscheduled(&uids),
        CtSeriesInfo::new(&uids),
        uids.clone(),
    );
    let inst = w.volume(v, VoxelUnits::Hu).unwrap();
    for (i, x) in inst.iter().enumerate() {
        // Names in reverse order, so that file order is not slice order.
        std::fs::write(dir.join(format!("{prefix}{:03}.dcm", 99 - i)), &x.bytes).unwrap();
    }
    inst
}

fn assert_same(a: &Volume, b: &Volume) {
    assert_eq!(a.data(), b.data());
    let (ga, gb) = (a.grid(), b.grid());
    assert_eq!(ga.size(), gb.size());
    for i in 0..3 {
        assert!((ga.spacing_mm()[i] - gb.spacing_mm()[i]).abs() < 1e-4);
        assert!((ga.origin_mm()[i] - gb.origin_mm()[i]).abs() < 1e-4);
        for j in 0..3 {
            assert!((ga.direction()[i][j] - gb.direction()[i][j]).abs() < 1e-5);
        }
    }
}

#[test]
fn several_series_with_other_files_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("nested");
    std::fs::create_dir(&sub).unwrap();
    let a = volume(5, 20.0);
    let b = volume(3, 0.0);
    let ia = write_series(dir.path(), &a, "a");
    let ib = write_series(&sub, &b, "b");
    std::fs::write(dir.path().join("README.txt"), "not dicom").unwrap();
    // A non-image object: a dose report in the same folder.
    let uids = UidGenerator::default();
    let reports =
        roboct_dicom::sr::ReportWriter::new(StudyContext::unscheduled(&uids), uids.clone());
    let ko = reports.key_images(&[(&ia[0]).into()], "").unwrap();
    std::fs::write(dir.path().join("ko.dcm"), &ko.bytes).unwrap();
    let scan = scan_folder(dir.path()).unwrap();
    assert_eq!(scan.series.len(), 2);
    assert_eq!(scan.not_dicom.len(), 1);
    assert_eq!(scan.non_image.len(), 1);
    let e = read_series(dir.path(), None).unwrap_err();
    assert!(matches!(e, ReadError::SeveralSeries { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains(&ia[0].series_instance_uid) && msg.contains(&ib[0].series_instance_uid),
        "{msg}"
    );
    let (va, sa) = read_series(dir.path(), Some(&ia[0].series_instance_uid)).unwrap();
    assert_eq!(sa.images, 5);
    assert_same(&va, &a);
    let (vb, _) = read_series(dir.path(), Some(&ib[0].series_instance_uid)).unwrap();
    assert_same(&vb, &b);
    let e = read_series(dir.path(), Some("1.2.3.4")).unwrap_err();
    assert!(e.to_string().contains("1.2.3.4"), "{e}");
}

#[test]
fn outside_series_from_pydicom() {
    let dir = tempfile::tempdir().unwrap();
    // Coronal-ish orientation, unsigned storage with slope 2 / intercept -1024, implicit VR,
    // files written in descending position order.
    let code = r#"
import sys, numpy as np, pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ImplicitVRLittleEndian, generate_uid
out = sys.argv[1]
series = generate_uid()
for k in range(4):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.2'
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds = Dataset(); ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID; ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = 'CT'; ds.SeriesInstanceUID = series; ds.StudyInstanceUID = generate_uid()
    ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    ds.ImagePositionPatient = [-10.0, 5.0 - 3.0 * k, 20.0]
    ds.PixelSpacing = [0.5, 0.25]
    ds.Rows = 3; ds.Columns = 4
    ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = 'MONOCHROME2'
    ds.BitsAllocated = 16; ds.BitsStored = 12; ds.HighBit = 11; ds.PixelRepresentation = 0
    ds.RescaleSlope = 2; ds.RescaleIntercept = -1024
    px = (np.arange(12, dtype=np.uint16).reshape(3, 4) + 100 * k)
    ds.PixelData = px.tobytes()
    ds.save_as(f'{out}/x{k}.dcm', enforce_file_format=True)
"#;
    run_python(code, &[dir.path().to_str().unwrap()]);
    let (v, s) = read_series(dir.path(), None).unwrap();
    assert_eq!(s.images, 4);
    let g = v.grid();
    assert_eq!(g.size(), [4, 3, 4]);
    assert_eq!(g.spacing_mm(), [0.25, 0.5, 3.0]);
    // Row direction +x, column direction -z, normal = r x c = (0, 1, 0): ascending y, so the
    // first slice is the file with the lowest y (k = 3).
    assert_eq!(g.origin_mm(), [-10.0, -4.0, 20.0]);
    assert_eq!(
        g.direction(),
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]
    );
    // Voxel (x 1, y 2) of the first slice = file k 3, stored 2*4+1 + 300 = 309 -> 2*309-1024.
    assert_eq!(v.data()[[0, 2, 1]], 2.0 * 309.0 - 1024.0);
    assert_eq!(v.data()[[3, 0, 0]], 2.0 * 0.0 - 1024.0);
}

#[test]
fn corrupt_files_missing_slices_and_missing_geometry_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let inst = write_series(dir.path(), &volume(5, 0.0), "s");
    // Truncated copy: starts like DICOM, ends mid-element.
    let cut = dir.path().join("truncated.dcm");
    std::fs::write(&cut, &inst[2].bytes[..400]).unwrap();
    let e = read_series(dir.path(), None).unwrap_err();
    assert!(matches!(e, ReadError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("truncated.dcm"), "{e}");
    std::fs::remove_file(&cut).unwrap();
    // A missing slice in the middle.
    let middle = dir.path().join("s097.dcm");
    std::fs::remove_file(&middle).unwrap();
    let e = read_series(dir.path(), None).unwrap_err();
    assert!(e.to_string().contains("uneven slice spacing"), "{e}");
    std::fs::write(&middle, &inst[2].bytes).unwrap();
    read_series(dir.path(), None).unwrap();
    // A slice without Image Position (Patient).
    let (_, mut obj) = roboct_dicom::part10::decode_part10(&inst[0].bytes).unwrap();
    obj.remove_element(dicom_dictionary_std::tags::IMAGE_POSITION_PATIENT);
    let bytes =
        roboct_dicom::part10::encode_part10(&obj, roboct_dicom::part10::EXPLICIT_VR_LE).unwrap();
    std::fs::write(dir.path().join("s099.dcm"), bytes).unwrap();
    let e = read_series(dir.path(), None).unwrap_err();
    assert!(matches!(e, ReadError::NoGeometry { .. }), "{e}");
    assert!(
        e.to_string().contains("Image Position (Patient)") && e.to_string().contains("s099.dcm"),
        "{e}"
    );
    // An empty folder.
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        read_series(empty.path(), None),
        Err(ReadError::NoSeries { .. })
    ));
}

#[test]
fn links_to_folders_are_not_followed_and_links_to_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("series");
    std::fs::create_dir(&sub).unwrap();
    let v = volume(4, 0.0);
    let inst = write_series(&sub, &v, "s");
    // A link back up the tree (a loop that a walker following links would never leave) and a
    // link to a folder elsewhere.
    std::os::unix::fs::symlink(dir.path(), sub.join("loop")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("elsewhere")).unwrap();
    let scan = scan_folder(dir.path()).unwrap();
    assert_eq!(
        scan.linked_folders,
        [dir.path().join("elsewhere"), sub.join("loop")]
    );
    assert_eq!(scan.series.len(), 1);
    assert_eq!(scan.series[0].images, 4);
    let (back, _) = scan.read_series(None).unwrap();
    assert_same(&back, &v);
    // A link to a file is a file like any other: the slice it points to is read once.
    std::fs::rename(sub.join("s099.dcm"), elsewhere.path().join("first.dcm")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path().join("first.dcm"), sub.join("s099.dcm")).unwrap();
    let (back, s) = read_series(dir.path(), None).unwrap();
    assert_eq!(s.images, 4);
    assert_same(&back, &v);
    // A FIFO (opening it would wait for a writer forever) and a broken link are not DICOM.
    let fifo = sub.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink(dir.path().join("gone"), sub.join("broken")).unwrap();
    let scan = scan_folder(dir.path()).unwrap();
    assert_eq!(scan.not_dicom, [sub.join("broken"), fifo.clone()]);
    assert_eq!(scan.series[0].images, 4);
    // The upload listing follows the same rules.
    let listing = roboct_dicom::reader::list_part10_files(dir.path()).unwrap();
    assert_eq!(listing.files.len(), inst.len());
    assert_eq!(listing.linked_folders.len(), 2);
    let bytes = roboct_dicom::reader::read_part10_file(&sub.join("s099.dcm")).unwrap();
    assert_eq!(bytes, inst[0].bytes);
}

#[test]
fn every_patient_position_puts_the_volume_where_the_patient_lies() {
    // Written in the scanner's frame with a patient position, read back in the patient's:
    // the same voxels, each at `patient_from_scanner` times its scanner position.
    use roboct_dicom::ct::PatientPosition;
    use roboct_geometry::vec3::mat_vec;
    let v = volume(4, 20.0);
    for position in PatientPosition::ALL {
        let dir = tempfile::tempdir().unwrap();
        let uids = UidGenerator::default();
        let mut info = CtSeriesInfo::new(&uids);
        info.patient_position = position;
        let w = CtSeriesWriter::new(StudyContext::unscheduled(&uids), info, uids.clone());
        for (k, x) in w.volume(&v, VoxelUnits::Hu).unwrap().iter().enumerate() {
            std::fs::write(dir.path().join(format!("{k:03}.dcm")), &x.bytes).unwrap();
        }
        let (back, _) = read_series(dir.path(), None).unwrap();
        assert_eq!(back.data(), v.data(), "{position}");
        let m = position.patient_from_scanner();
        for index in [
            [0.0, 0.0, 0.0],
            [11.0, 0.0, 0.0],
            [0.0, 9.0, 0.0],
            [3.0, 4.0, 3.0],
        ] {
            let want = mat_vec(m, v.grid().world_from_index(index));
            let got = back.grid().world_from_index(index);
            for a in 0..3 {
                assert!(
                    (got[a] - want[a]).abs() < 1e-3,
                    "{position} voxel {index:?}: {got:?}, expected {want:?}"
                );
            }
        }
    }
    // Head first supine is the identity; feet first supine turns x and z round.
    let ffs = PatientPosition::Ffs.patient_from_scanner();
    assert_eq!(mat_vec(ffs, [1.0, 2.0, 3.0]), [-1.0, 2.0, -3.0]);
}

/// Where the header of `element` (tag and explicit VR, little endian) starts in `bytes`.
fn find_header(bytes: &[u8], group: u16, element: u16, vr: &[u8; 2]) -> usize {
    let mut needle = Vec::new();
    needle.extend_from_slice(&group.to_le_bytes());
    needle.extend_from_slice(&element.to_le_bytes());
    needle.extend_from_slice(vr);
    bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("element present")
}

/// Issue 11 (found by the `dicom_file` and `dicom_folder` fuzz targets): a long-form element
/// length claiming gigabytes in a small file made dicom-rs reserve and zero that much before
/// reading (1.1 to 4.3 GB for files of 1 to 3 KB). The lengths are now checked against the
/// file first, and the error names the element.
#[test]
fn element_lengths_past_the_end_of_the_file_are_refused_before_reading() {
    use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
    let dir = tempfile::tempdir().unwrap();
    let inst = write_series(dir.path(), &volume(3, 0.0), "s");
    let long_length = |bytes: &mut Vec<u8>, at: usize| {
        bytes[at + 8..at + 12].copy_from_slice(&3_400_000_000u32.to_le_bytes());
    };

    // The pixel data's length: read_part10_file (upload) and read_series (import-dicom).
    let mut pixels = inst[1].bytes.clone();
    let at = find_header(&pixels, 0x7FE0, 0x0010, b"OW");
    long_length(&mut pixels, at);
    let p = dir.path().join("s098.dcm");
    std::fs::write(&p, &pixels).unwrap();
    let e = roboct_dicom::reader::read_part10_file(&p).unwrap_err();
    let t = e.to_string();
    assert!(matches!(e, ReadError::Corrupt { .. }), "{t}");
    assert!(
        t.contains("s098.dcm") && t.contains("(7FE0,0010) announces 3400000000 bytes"),
        "{t}"
    );
    let e = read_series(dir.path(), None).unwrap_err();
    assert!(e.to_string().contains("announces 3400000000 bytes"), "{e}");

    // A private OB element before the pixel data: scan_folder (headers only) refuses it too.
    let (_, mut obj) = roboct_dicom::part10::decode_part10(&inst[1].bytes).unwrap();
    obj.put(DataElement::new(
        Tag(0x0009, 0x1010),
        VR::OB,
        PrimitiveValue::from(vec![1u8, 2, 3, 4]),
    ));
    let mut private =
        roboct_dicom::part10::encode_part10(&obj, roboct_dicom::part10::EXPLICIT_VR_LE).unwrap();
    let at = find_header(&private, 0x0009, 0x1010, b"OB");
    long_length(&mut private, at);
    std::fs::write(&p, &private).unwrap();
    let e = scan_folder(dir.path()).unwrap_err();
    assert!(
        e.to_string().contains("s098.dcm")
            && e.to_string()
                .contains("(0009,1010) announces 3400000000 bytes"),
        "{e}"
    );

    // As written, the series reads.
    std::fs::write(&p, &inst[1].bytes).unwrap();
    read_series(dir.path(), None).unwrap();
}

/// Issue 11 (found by the `dicom_folder` fuzz target): dicom-pixeldata 0.10's RLE decoder
/// indexes the RLE header and the decoded segments without bounds checks, so a short fragment
/// or a short segment panicked (`rle_lossless.rs:237`). Such fragments are now refused first,
/// by file and with what was expected.
#[test]
fn rle_fragments_that_would_trip_the_decoder_are_named() {
    use dicom_core::value::PixelFragmentSequence;
    use dicom_core::{DataElement, DicomValue, VR};
    use roboct_dicom::part10::{EXPLICIT_VR_LE, decode_part10, encode_dataset, wrap_dataset};
    const RLE: &str = "1.2.840.10008.1.2.5";
    let dir = tempfile::tempdir().unwrap();
    // 12 x 10 pixels of 16 bits: two segments of 120 bytes each.
    let inst = write_series(dir.path(), &volume(2, 0.0), "s");
    let as_rle = |fragment: Vec<u8>| -> Vec<u8> {
        let (info, mut obj) = decode_part10(&inst[0].bytes).unwrap();
        let value = DicomValue::<dicom_object::InMemDicomObject, Vec<u8>>::PixelSequence(
            PixelFragmentSequence::new(Vec::<u32>::new(), vec![fragment]),
        );
        obj.put(DataElement::new(
            dicom_dictionary_std::tags::PIXEL_DATA,
            VR::OB,
            value,
        ));
        let dataset = encode_dataset(&obj, EXPLICIT_VR_LE).unwrap();
        wrap_dataset(
            &info.sop_class_uid,
            &info.sop_instance_uid,
            RLE,
            None,
            &dataset,
        )
        .unwrap()
    };
    let header = |count: u32, offsets: &[u32]| {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(&count.to_le_bytes());
        for (i, o) in offsets.iter().enumerate() {
            h[4 + 4 * i..8 + 4 * i].copy_from_slice(&o.to_le_bytes());
        }
        h
    };
    // Two literal runs of 120 bytes: a valid fragment, which decodes.
    let mut valid = header(2, &[64, 64 + 1 + 120]);
    for _ in 0..2 {
        valid.push(119);
        valid.extend_from_slice(&[7u8; 120]);
    }
    let short_segment = {
        let mut f = header(2, &[64, 66]);
        f.extend_from_slice(&[0x00, 0xAA, 0x00, 0xBB]);
        f
    };
    let cases: [(Vec<u8>, &str); 3] = [
        (
            vec![2, 0, 0, 0, 1, 2, 3, 4, 5, 6],
            "RLE fragment 0 has 10 bytes; expected at least its 64-byte header",
        ),
        (
            short_segment,
            "RLE fragment 0, segment 0 decodes to 1 bytes; expected Rows x Columns = 120",
        ),
        (header(40, &[64]), "RLE fragment 0 has 40 segments"),
    ];
    let first = dir.path().join("s099.dcm");
    for (fragment, expected) in cases {
        std::fs::write(&first, as_rle(fragment)).unwrap();
        let e = read_series(dir.path(), None).unwrap_err();
        let t = e.to_string();
        assert!(matches!(e, ReadError::Pixels { .. }), "{t}");
        assert!(t.contains("s099.dcm") && t.contains(expected), "{t}");
    }
    std::fs::write(&first, as_rle(valid)).unwrap();
    let (v, _) = read_series(dir.path(), None).unwrap();
    assert_eq!(v.data().dim(), (2, 10, 12));
}

/// Issue 11 (found by the `dicom_folder` fuzz target): Bits Stored 0 (or above 32) made
/// dicom-pixeldata 0.10's rescale table assert (`lut.rs:113`), and Bits Stored 32 with 16 bits
/// allocated would have made it a table of 2^32 entries. Bits Stored must lie in 1 to Bits
/// Allocated.
#[test]
fn bits_stored_outside_bits_allocated_is_named() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use roboct_dicom::part10::{EXPLICIT_VR_LE, decode_part10, encode_part10};
    let dir = tempfile::tempdir().unwrap();
    let inst = write_series(dir.path(), &volume(2, 0.0), "s");
    let first = dir.path().join("s099.dcm");
    for stored in [0u16, 17, 32, 40] {
        let (_, mut obj) = decode_part10(&inst[0].bytes).unwrap();
        obj.put(DataElement::new(
            dicom_dictionary_std::tags::BITS_STORED,
            VR::US,
            PrimitiveValue::from(stored),
        ));
        std::fs::write(&first, encode_part10(&obj, EXPLICIT_VR_LE).unwrap()).unwrap();
        let e = read_series(dir.path(), None).unwrap_err();
        let t = e.to_string();
        assert!(matches!(e, ReadError::Pixels { .. }), "{t}");
        assert!(
            t.contains("s099.dcm")
                && t.contains(&format!("Bits Stored (0028,0101) is {stored}; expected 1 to Bits Allocated (0028,0100) (16)")),
            "{t}"
        );
    }
}

/// Issue 11 (found by the `dicom_folder` fuzz target): dicom-pixeldata 0.10 copied a decoded
/// JPEG frame into a buffer sized from Rows x Columns without comparing, so a JPEG larger than
/// the header says panicked (`jpeg.rs:81`). Here the JPEG is 4 x 3 and Rows says 2.
#[test]
fn jpeg_frames_larger_than_rows_and_columns_are_named() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use roboct_dicom::part10::{EXPLICIT_VR_LE, decode_part10, encode_dataset, wrap_dataset};
    let jpeg = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ct_jpeg_lossless.dcm"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ct.dcm");
    // As made by dcmcjpeg, it reads.
    std::fs::write(&p, &jpeg).unwrap();
    let (v, _) = read_series(dir.path(), None).unwrap();
    assert_eq!(v.data().dim(), (1, 3, 4));
    // Rows 2: the decoded 4 x 3 image no longer fits.
    let (info, mut obj) = decode_part10(&jpeg).unwrap();
    obj.put(DataElement::new(
        dicom_dictionary_std::tags::ROWS,
        VR::US,
        PrimitiveValue::from(2u16),
    ));
    let dataset = encode_dataset(&obj, EXPLICIT_VR_LE).unwrap();
    let bytes = wrap_dataset(
        &info.sop_class_uid,
        &info.sop_instance_uid,
        &info.transfer_syntax_uid,
        None,
        &dataset,
    )
    .unwrap();
    std::fs::write(&p, bytes).unwrap();
    let e = read_series(dir.path(), None).unwrap_err();
    let t = e.to_string();
    assert!(matches!(e, ReadError::Pixels { .. }), "{t}");
    assert!(
        t.contains("ct.dcm")
            && t.contains("the JPEG data holds a 4 x 3 image of 1 components at 16 bits")
            && t.contains("Rows x Columns x Samples per Pixel = 2 x 4 x 1"),
        "{t}"
    );
}
