//! Whether a projection stack read from a file fits the geometry file it is reconstructed with:
//! checked once, where the two meet, so a reconstruction never runs on mismatched data.

use std::path::Path;

use roboct_geometry::GeometryFile;

use crate::{IoError, ProjectionStack};

/// A MetaImage stack's header and a roboct TOML geometry must place the detector pixels alike.
/// RTK geometries take their detector from the header, so there is nothing to compare; nor is
/// there for stacks without a header (`.npy`). `projections` and `geometry` name the files in
/// the error.
pub fn check_detector_agrees(
    stack: &ProjectionStack,
    g: &GeometryFile,
    projections: &Path,
    geometry: &Path,
) -> Result<(), IoError> {
    let (Some(s), false) = (stack.detector, g.rtk_frame) else {
        return Ok(());
    };
    let d = g.scan.detector();
    // Headers store decimal text, so equal pitches can differ in the last digits.
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-6 * (1.0 + x.abs().max(y.abs()));
    let agree = (0..2)
        .all(|a| close(s.pixel_mm[a], d.pixel_mm[a]) && close(s.origin_mm[a], d.origin_mm[a]));
    if agree {
        return Ok(());
    }
    Err(IoError::DetectorDisagrees {
        projections: projections.to_path_buf(),
        geometry: geometry.to_path_buf(),
        header_pixel_mm: s.pixel_mm,
        header_origin_mm: s.origin_mm,
        file_pixel_mm: d.pixel_mm,
        file_origin_mm: d.origin_mm,
    })
}

/// The stack must have the shape (views, rows, cols) that the geometry describes.
pub fn check_projection_shape(
    found: (usize, usize, usize),
    g: &GeometryFile,
    projections: &Path,
    geometry: &Path,
) -> Result<(), IoError> {
    let expected = g.scan.projection_shape();
    if found == expected {
        return Ok(());
    }
    Err(IoError::ProjectionsDisagree {
        projections: projections.to_path_buf(),
        geometry: geometry.to_path_buf(),
        found,
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DetectorSampling;
    use roboct_geometry::{Beam, CircularScan, Detector, DetectorShape, even_angles};

    fn geometry(rtk_frame: bool) -> GeometryFile {
        let scan = CircularScan {
            beam: Beam::Divergent,
            sid_mm: 500.0,
            sdd_mm: 1000.0,
            detector: Detector::centered(8, 4, [1.0, 1.0], [0.0, 0.0], DetectorShape::Flat),
            angles_rad: even_angles(0.0, std::f64::consts::TAU, 6),
            detector_rotation_rad: 0.0,
        };
        GeometryFile {
            scan: scan.build().unwrap(),
            volume: None,
            rtk_frame,
            is_2d: false,
            circular: Some(scan),
        }
    }

    fn stack(g: &GeometryFile, pixel_mm: f64) -> ProjectionStack {
        let d = g.scan.detector();
        ProjectionStack {
            data: ndarray::Array3::zeros(g.scan.projection_shape()),
            detector: Some(DetectorSampling {
                pixel_mm: [pixel_mm, d.pixel_mm[1]],
                origin_mm: d.origin_mm,
            }),
        }
    }

    #[test]
    fn a_header_that_matches_the_file_passes_and_one_that_does_not_is_refused() {
        let g = geometry(false);
        let (p, f) = (Path::new("p.mha"), Path::new("g.toml"));
        check_detector_agrees(&stack(&g, 1.0 + 1e-9), &g, p, f).unwrap();
        let e = check_detector_agrees(&stack(&g, 2.0), &g, p, f).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("p.mha says the detector pixel is [2.0, 1.0] mm"),
            "{e}"
        );
        // RTK geometries take the detector from the header: nothing to disagree with.
        let rtk = geometry(true);
        check_detector_agrees(&stack(&rtk, 2.0), &rtk, p, f).unwrap();
    }

    #[test]
    fn a_stack_of_another_shape_is_refused() {
        let g = geometry(false);
        let (p, f) = (Path::new("p.npy"), Path::new("g.toml"));
        check_projection_shape(g.scan.projection_shape(), &g, p, f).unwrap();
        let e = check_projection_shape((6, 4, 9), &g, p, f).unwrap_err();
        assert_eq!(
            e.to_string(),
            "p.npy: projections have shape (views, rows, cols) = (6, 4, 9), but g.toml describes (6, 4, 8)"
        );
    }

    #[test]
    fn a_stack_for_a_detector_carries_its_sampling() {
        let g = geometry(false);
        let s = ProjectionStack::for_detector(ndarray::Array3::zeros((1, 1, 1)), g.scan.detector());
        assert_eq!(s.detector.unwrap().pixel_mm, [1.0, 1.0]);
    }
}
