//! Property tests of the readers and writers: any grid survives a round trip through every
//! volume format, and a damaged file (truncated, bytes overwritten, header lines altered) is
//! either read or refused with an error, never a panic and never an allocation the header
//! merely claims.

use ndarray::Array3;
use proptest::prelude::*;
use roboct_geometry::{Volume, VolumeGrid};
use roboct_io::{
    DetectorSampling, ProjectionStack, read_projections, read_volume, write_projections,
    write_volume,
};

fn volume(size: [usize; 3], spacing: [f64; 3], origin: [f64; 3], angle: f64, seed: u32) -> Volume {
    let (c, s) = (angle.cos(), angle.sin());
    let dir = [[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]];
    let grid = VolumeGrid::with_direction(size, spacing, origin, dir).unwrap();
    let data = Array3::from_shape_fn((size[2], size[1], size[0]), |(z, y, x)| {
        let h = (seed as usize)
            .wrapping_mul(2654435761)
            .wrapping_add(x * 7 + y * 131 + z * 1031);
        (h % 10007) as f32 * 0.37 - 1000.0
    });
    Volume::from_array(grid, data).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    // Our writers print 17 significant digits (MetaImage) or store f32 (NIfTI).
    (a - b).abs() <= 1e-5 * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_grid_round_trips_through_every_volume_format(
        nx in 1usize..6, ny in 1usize..6, nz in 1usize..5,
        spacing in prop::array::uniform3(0.01f64..50.0),
        origin in prop::array::uniform3(-1000.0f64..1000.0),
        angle in -3.1f64..3.1,
        seed in any::<u32>(),
    ) {
        let v = volume([nx, ny, nz], spacing, origin, angle, seed);
        let dir = tempfile::tempdir().unwrap();
        for name in ["v.nii", "v.nii.gz", "v.mha", "v.mhd"] {
            let p = dir.path().join(name);
            write_volume(&p, &v).unwrap();
            let back = read_volume(&p).unwrap();
            prop_assert_eq!(back.data(), v.data(), "{}", name);
            let (a, b) = (back.grid(), v.grid());
            prop_assert_eq!(a.size(), b.size());
            for i in 0..3 {
                prop_assert!(close(a.spacing_mm()[i], b.spacing_mm()[i]), "{} spacing {:?} vs {:?}", name, a.spacing_mm(), b.spacing_mm());
                prop_assert!(close(a.origin_mm()[i], b.origin_mm()[i]), "{} origin {:?} vs {:?}", name, a.origin_mm(), b.origin_mm());
                for j in 0..3 {
                    prop_assert!((a.direction()[i][j] - b.direction()[i][j]).abs() < 1e-5, "{} direction", name);
                }
            }
        }
    }

    #[test]
    fn damaged_projection_files_are_read_or_refused(
        ext in prop::sample::select(vec!["mha", "npy"]),
        cut in 0.0f64..1.0,
        flips in prop::collection::vec((0.0f64..1.0, any::<u8>()), 0..6),
    ) {
        let stack = ProjectionStack {
            data: Array3::from_shape_fn((3, 4, 5), |(v, r, c)| (v * 20 + r * 5 + c) as f32 * 0.01),
            detector: Some(DetectorSampling { pixel_mm: [0.5, 0.75], origin_mm: [-1.0, -1.125] }),
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(format!("p.{ext}"));
        write_projections(&p, &stack).unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        // Damage the header more often than the payload: that is where a reader can go wrong.
        let header_len = bytes.len().min(200);
        for (at, b) in flips {
            let i = ((at * header_len as f64) as usize).min(header_len - 1);
            bytes[i] = b;
        }
        bytes.truncate(((bytes.len() as f64) * (0.5 + 0.5 * cut)) as usize);
        std::fs::write(&p, &bytes).unwrap();
        match read_projections(&p) {
            Ok(s) => {
                // Whatever was read is a well-formed stack of finite numbers.
                prop_assert!(s.data.iter().all(|x| x.is_finite()));
                prop_assert!(s.data.len() <= bytes.len());
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.contains("p."), "error does not name the file: {}", msg);
            }
        }
    }

    #[test]
    fn altered_metaimage_headers_are_read_or_refused(
        line in 0usize..12,
        value in prop::sample::select(vec![
            "", "-1", "0", "nan", "inf", "1e300", "18446744073709551617", "3 3", "1 2 3 4 5",
            "MET_DOUBLE", "MET_UCHAR", "Elsewhere.raw", "LOCAL", "True", "False", "abc",
        ]),
    ) {
        let stack = ProjectionStack {
            data: Array3::from_shape_fn((2, 3, 4), |(v, r, c)| (v * 12 + r * 4 + c) as f32),
            detector: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.mha");
        write_projections(&p, &stack).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let text_end = bytes.windows(20).position(|w| w == b"ElementDataFile = LO").unwrap();
        let header = String::from_utf8(bytes[..text_end].to_vec()).unwrap();
        let mut lines: Vec<String> = header.lines().map(String::from).collect();
        let n = lines.len();
        let key = lines[line % n].split('=').next().unwrap_or("").trim().to_string();
        lines[line % n] = format!("{key} = {value}");
        let mut out = lines.join("\n").into_bytes();
        out.push(b'\n');
        out.extend_from_slice(&bytes[text_end..]);
        std::fs::write(&p, &out).unwrap();
        match read_projections(&p) {
            Ok(s) => prop_assert!(s.data.len() <= out.len()),
            Err(e) => prop_assert!(e.to_string().contains("h.mha"), "{}", e),
        }
    }
}
