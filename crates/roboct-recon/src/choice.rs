//! Which analytic method fits a scan. [`fdk`](crate::fdk) itself reconstructs every circular
//! scan; the check keeps a user who names FBP from getting a cone-beam reconstruction they did
//! not ask for (and the other way round), with the name of the method that fits.

use roboct_geometry::ScanGeometry;

use crate::ReconError;

/// The analytic methods by the name a user gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Analytic {
    /// Filtered back-projection: parallel beams (2D, 3D) and fan beams (one detector row).
    Fbp,
    /// Feldkamp-Davis-Kress (Feldkamp 1984): circular cone beams.
    Fdk,
}

/// Refuses FBP of a cone-beam scan and FDK of a parallel-beam or fan-beam scan. `is_2d` says
/// the scan has one detector row and one slice (then a divergent beam is a fan).
pub fn check_analytic(
    method: Analytic,
    scan: &ScanGeometry,
    is_2d: bool,
) -> Result<(), ReconError> {
    let cone = !scan.is_parallel() && !is_2d;
    match (method, cone) {
        (Analytic::Fbp, true) => Err(ReconError::WrongAnalytic {
            given: "fbp",
            fits: "parallel-beam and fan-beam (one-row)",
            scan: "cone-beam",
            instead: "fdk",
        }),
        (Analytic::Fdk, false) => Err(ReconError::WrongAnalytic {
            given: "fdk",
            fits: "cone-beam",
            scan: if scan.is_parallel() {
                "parallel-beam"
            } else {
                "fan-beam"
            },
            instead: "fbp",
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roboct_geometry::{Beam, CircularScan, Detector, DetectorShape, even_angles};

    fn scan(beam: Beam, rows: usize) -> ScanGeometry {
        CircularScan {
            beam,
            sid_mm: 500.0,
            sdd_mm: 1000.0,
            detector: Detector::centered(8, rows, [1.0, 1.0], [0.0, 0.0], DetectorShape::Flat),
            angles_rad: even_angles(0.0, std::f64::consts::TAU, 6),
            detector_rotation_rad: 0.0,
        }
        .build()
        .unwrap()
    }

    #[test]
    fn fbp_refuses_a_cone_beam_and_fdk_a_parallel_or_fan_beam() {
        let cone = scan(Beam::Divergent, 4);
        let e = check_analytic(Analytic::Fbp, &cone, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--algorithm fbp is for parallel-beam and fan-beam (one-row) scans; this is a cone-beam scan: use --algorithm fdk"
        );
        check_analytic(Analytic::Fdk, &cone, false).unwrap();
        let parallel = scan(Beam::Parallel, 4);
        check_analytic(Analytic::Fbp, &parallel, false).unwrap();
        let e = check_analytic(Analytic::Fdk, &parallel, false).unwrap_err();
        assert!(
            e.to_string().contains("this is a parallel-beam scan"),
            "{e}"
        );
        let fan = scan(Beam::Divergent, 1);
        check_analytic(Analytic::Fbp, &fan, true).unwrap();
        let e = check_analytic(Analytic::Fdk, &fan, true).unwrap_err();
        assert!(e.to_string().contains("this is a fan-beam scan"), "{e}");
    }
}
