//! Our reading of RTK geometry files and projection stacks gives exactly RTK's rays: the exact
//! projections of an ellipsoid through a geometry with every offset and angle RTK has match
//! RTK's own `RayEllipsoidIntersectionImageFilter` (tests/data/MANIFEST.md).

use std::path::Path;

use roboct_geometry::read_rtk_xml;
use roboct_phantom::{Ellipsoid, Phantom};

#[test]
fn ellipsoid_projections_match_rtk() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let rtk = read_rtk_xml(&dir.join("rtk_ellipsoid_geometry.xml")).unwrap();
    let stack = roboct_io::read_projections(&dir.join("rtk_ellipsoid_projections.mha")).unwrap();
    let sampling = stack.detector.unwrap();
    let (views, rows, cols) = stack.data.dim();
    assert_eq!(views, 6);
    let scan = rtk
        .scan(cols, rows, sampling.pixel_mm, sampling.origin_mm)
        .unwrap();
    let a = 30f64.to_radians();
    let (s, c) = a.sin_cos();
    let phantom = Phantom {
        ellipsoids: vec![Ellipsoid {
            center_mm: [7.0, -4.0, 3.0],
            semi_axes_mm: [40.0, 25.0, 18.0],
            rotation: [[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]],
            value: 0.02,
        }],
    };
    let ours = phantom.project_quiet(&scan, 1);
    let mut max_err = 0.0f32;
    let mut hits = 0;
    for (a, b) in ours.iter().zip(stack.data.iter()) {
        max_err = max_err.max((a - b).abs());
        hits += (*b > 0.0) as usize;
    }
    assert!(
        hits > 300,
        "the ellipsoid should cover most pixels, got {hits}"
    );
    assert!(
        max_err < 1e-4,
        "max difference {max_err} (values up to 1.56)"
    );
}
