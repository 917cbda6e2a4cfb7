//! RTK geometry files (`RTKThreeDCircularGeometry` XML, versions 2 and 3), as written by
//! `rtksimulatedgeometry`, `rtkorageometry`, `rtkelektasynergygeometry` and RTK's own writer.
//!
//! A file lists, per projection, RTK's nine parameters (a parameter equal for every projection
//! is written once before the projections; a projection's value stays in force for the next
//! ones, as RTK's reader has it) and the 3x4 projection matrix, which RTK checks against the
//! parameters to 0.001: so do we. Geometries read here are in RTK's world frame (rotation axis
//! +y); the detector sampling (pixel pitch and origin) comes from the projection images, as in
//! RTK. See [`crate::conventions`] for the frames.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::circular::{RtkProjection, rtk_view};
use crate::scan::{Detector, DetectorShape, GeometryError, Orbit, ScanGeometry};

/// Why an RTK geometry file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RtkError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Os {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not well-formed XML.
    #[error("{path}: not valid XML: {message}")]
    Xml {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the position.
        message: String,
    },
    /// An element is missing or has a value we cannot use.
    #[error("{path}: <{element}>: {message}")]
    Element {
        /// The file.
        path: PathBuf,
        /// The element.
        element: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The parameters do not make a valid geometry.
    #[error("{path}: {source}")]
    Geometry {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: GeometryError,
    },
}

/// The content of an RTK geometry file.
#[derive(Clone, Debug, PartialEq)]
pub struct RtkGeometry {
    /// One entry per projection, in file order.
    pub projections: Vec<RtkProjection>,
    /// `RadiusCylindricalDetector` (0 for a flat panel).
    pub cylinder_radius_mm: f64,
}

impl RtkGeometry {
    /// The per-view geometry in RTK's world frame, for a detector of `cols` x `rows` pixels with
    /// the given pitch and origin (those of the projection images: RTK reads them there).
    pub fn scan(
        &self,
        cols: usize,
        rows: usize,
        pixel_mm: [f64; 2],
        origin_mm: [f64; 2],
    ) -> Result<ScanGeometry, GeometryError> {
        let shape = if self.cylinder_radius_mm == 0.0 {
            DetectorShape::Flat
        } else {
            for (i, p) in self.projections.iter().enumerate() {
                let centred = p.source_offset_mm == [0.0; 2] && p.projection_offset_mm == [0.0; 2];
                if (self.cylinder_radius_mm - p.sdd_mm).abs() > 1e-6 * p.sdd_mm || !centred {
                    return Err(GeometryError::BadView {
                        view: i,
                        message: format!(
                            "cylindrical detector of radius {} mm: only a cylinder centred on the source (radius = SourceToDetectorDistance {}, no offsets) is supported",
                            self.cylinder_radius_mm, p.sdd_mm
                        ),
                    });
                }
            }
            DetectorShape::Cylindrical
        };
        let detector = Detector {
            cols,
            rows,
            pixel_mm,
            origin_mm,
            shape,
        };
        let views = self.projections.iter().map(rtk_view).collect();
        // RTK's rotation axis is y; the gantry angle is a right-hand rotation about it.
        let orbit = Orbit {
            axis: [0.0, 1.0, 0.0],
            isocenter_mm: [0.0; 3],
            angles_rad: self.projections.iter().map(|p| p.gantry_rad).collect(),
        };
        let circular = self.projections.iter().all(|p| {
            p.out_of_plane_rad == 0.0
                && p.source_offset_mm[1] == 0.0
                && p.sid_mm == self.projections[0].sid_mm
        });
        ScanGeometry::new(detector, views, circular.then_some(orbit))
    }
}

const PARAMS: [&str; 9] = [
    "SourceToIsocenterDistance",
    "SourceToDetectorDistance",
    "GantryAngle",
    "ProjectionOffsetX",
    "ProjectionOffsetY",
    "OutOfPlaneAngle",
    "InPlaneAngle",
    "SourceOffsetX",
    "SourceOffsetY",
];

/// Reads an RTK geometry file.
pub fn read_rtk_xml(path: &Path) -> Result<RtkGeometry, RtkError> {
    let text = std::fs::read_to_string(path).map_err(|source| RtkError::Os {
        path: path.to_path_buf(),
        source,
    })?;
    parse_rtk_xml(&text, path)
}

/// Parses RTK geometry XML; `path` only names the source in errors.
pub fn parse_rtk_xml(text: &str, path: &Path) -> Result<RtkGeometry, RtkError> {
    let element_err = |element: &str, message: String| RtkError::Element {
        path: path.to_path_buf(),
        element: element.into(),
        message,
    };
    let doc = roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .map_err(|e| RtkError::Xml {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "RTKThreeDCircularGeometry" {
        return Err(element_err(
            root.tag_name().name(),
            "root element must be <RTKThreeDCircularGeometry>".into(),
        ));
    }
    match root.attribute("version") {
        Some("2") | Some("3") => {}
        Some(v) => {
            return Err(element_err(
                "RTKThreeDCircularGeometry",
                format!("version {v}; expected 2 or 3"),
            ));
        }
        None => {
            return Err(element_err(
                "RTKThreeDCircularGeometry",
                "no version attribute; expected version=\"3\"".into(),
            ));
        }
    }
    let number = |node: roxmltree::Node| -> Result<f64, RtkError> {
        let name = node.tag_name().name();
        let t = node.text().unwrap_or("").trim();
        let v: f64 = t
            .parse()
            .map_err(|_| element_err(name, format!("{t:?} is not a number")))?;
        if !v.is_finite() {
            return Err(element_err(name, format!("{t} is not a finite number")));
        }
        Ok(v)
    };
    // Current values, updated by global elements and by each projection's own elements.
    let mut current = [f64::NAN, 0.0, f64::NAN, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let mut radius = 0.0;
    let mut projections = Vec::new();
    let set = |current: &mut [f64; 9], node: roxmltree::Node| -> Result<bool, RtkError> {
        let name = node.tag_name().name();
        let key = if name == "Angle" { "GantryAngle" } else { name };
        match PARAMS.iter().position(|p| p.eq_ignore_ascii_case(key)) {
            Some(i) => {
                current[i] = number(node)?;
                Ok(true)
            }
            None => Ok(false),
        }
    };
    for node in root.children().filter(|n| n.is_element()) {
        let name = node.tag_name().name();
        if name == "Projection" {
            let mut matrix: Option<[[f64; 4]; 3]> = None;
            for child in node.children().filter(|n| n.is_element()) {
                let cname = child.tag_name().name();
                if set(&mut current, child)? {
                    continue;
                }
                if cname == "Matrix" {
                    let t = child.text().unwrap_or("");
                    let vals: Vec<f64> = t
                        .split_whitespace()
                        .map(|s| s.parse::<f64>())
                        .collect::<Result<_, _>>()
                        .map_err(|_| {
                            element_err(
                                "Matrix",
                                format!("projection {}: not 12 numbers", projections.len()),
                            )
                        })?;
                    if vals.len() != 12 {
                        return Err(element_err(
                            "Matrix",
                            format!(
                                "projection {}: {} numbers; expected 12",
                                projections.len(),
                                vals.len()
                            ),
                        ));
                    }
                    matrix = Some(std::array::from_fn(|r| {
                        std::array::from_fn(|c| vals[4 * r + c])
                    }));
                }
                // Collimation and unknown elements do not change the geometry.
            }
            let index = projections.len();
            for (i, v) in current.iter().enumerate() {
                if v.is_nan() {
                    return Err(element_err(
                        PARAMS[i],
                        format!("missing for projection {index}"),
                    ));
                }
            }
            let p = RtkProjection {
                sid_mm: current[0],
                sdd_mm: current[1],
                gantry_rad: current[2].to_radians(),
                projection_offset_mm: [current[3], current[4]],
                out_of_plane_rad: current[5].to_radians(),
                in_plane_rad: current[6].to_radians(),
                source_offset_mm: [current[7], current[8]],
            };
            if let Some(m) = matrix {
                let ours = p.matrix();
                for r in 0..3 {
                    for c in 0..4 {
                        if (m[r][c] - ours[r][c]).abs() > 1e-3 {
                            return Err(element_err(
                                "Matrix",
                                format!(
                                    "projection {index}: the matrix does not match the parameters (row {r}, column {c}: {} in the file, {} from the parameters), as RTK also checks",
                                    m[r][c], ours[r][c]
                                ),
                            ));
                        }
                    }
                }
            }
            projections.push(p);
        } else if name == "RadiusCylindricalDetector" {
            radius = number(node)?;
        } else {
            set(&mut current, node)?;
        }
    }
    if projections.is_empty() {
        return Err(RtkError::Geometry {
            path: path.to_path_buf(),
            source: GeometryError::NoViews,
        });
    }
    for (i, p) in projections.iter().enumerate() {
        if p.sdd_mm != 0.0 && p.sdd_mm.abs() < p.sid_mm.abs() {
            return Err(element_err(
                "SourceToDetectorDistance",
                format!(
                    "projection {i}: {} is less than SourceToIsocenterDistance {}",
                    p.sdd_mm, p.sid_mm
                ),
            ));
        }
        if p.sdd_mm != 0.0 && !(p.sid_mm > 0.0) {
            return Err(element_err(
                "SourceToIsocenterDistance",
                format!("projection {i}: {}; expected > 0", p.sid_mm),
            ));
        }
    }
    Ok(RtkGeometry {
        projections,
        cylinder_radius_mm: radius,
    })
}

/// Writes an RTK geometry file (version 3) as RTK's writer does: parameters equal for all
/// projections once at the top (left out when at their default 0), then each projection's
/// gantry angle, its own parameters and its matrix.
pub fn write_rtk_xml(path: &Path, geometry: &RtkGeometry) -> Result<(), RtkError> {
    std::fs::write(path, rtk_xml(geometry)).map_err(|source| RtkError::Os {
        path: path.to_path_buf(),
        source,
    })
}

/// The XML text of [`write_rtk_xml`].
pub fn rtk_xml(geometry: &RtkGeometry) -> String {
    let ps = &geometry.projections;
    let values = |p: &RtkProjection| -> [f64; 9] {
        [
            p.sid_mm,
            p.sdd_mm,
            p.gantry_rad.to_degrees(),
            p.projection_offset_mm[0],
            p.projection_offset_mm[1],
            p.out_of_plane_rad.to_degrees(),
            p.in_plane_rad.to_degrees(),
            p.source_offset_mm[0],
            p.source_offset_mm[1],
        ]
    };
    let all: Vec<[f64; 9]> = ps.iter().map(values).collect();
    let mut out = String::from(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE RTKGEOMETRY>\n<RTKThreeDCircularGeometry version=\"3\">\n",
    );
    let mut global = [false; 9];
    for i in 0..9 {
        if i == 2 {
            continue; // the gantry angle is always per projection
        }
        if all.iter().all(|v| v[i] == all[0][i]) {
            global[i] = true;
            if all[0][i] != 0.0 || i < 2 {
                let _ = writeln!(out, "  <{0}>{1}</{0}>", PARAMS[i], all[0][i]);
            }
        }
    }
    if geometry.cylinder_radius_mm != 0.0 {
        let _ = writeln!(
            out,
            "  <RadiusCylindricalDetector>{}</RadiusCylindricalDetector>",
            geometry.cylinder_radius_mm
        );
    }
    for (p, v) in ps.iter().zip(&all) {
        out += "  <Projection>\n";
        for i in 0..9 {
            if !global[i] {
                let _ = writeln!(out, "    <{0}>{1}</{0}>", PARAMS[i], v[i]);
            }
        }
        out += "    <Matrix>\n";
        for row in p.matrix() {
            let _ = writeln!(out, "      {} {} {} {}", row[0], row[1], row[2], row[3]);
        }
        out += "    </Matrix>\n  </Projection>\n";
    }
    out += "</RTKThreeDCircularGeometry>\n";
    out
}

impl roboct_core::Recover for RtkError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            RtkError::Os { .. }
            | RtkError::Xml { .. }
            | RtkError::Element { .. }
            | RtkError::Geometry { .. } => roboct_core::Recovery::Abort,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_gives_the_same_projections() {
        let projections: Vec<RtkProjection> = (0..5)
            .map(|i| RtkProjection {
                sid_mm: 600.0,
                sdd_mm: 1000.0,
                gantry_rad: (i as f64 * 72.0).to_radians(),
                projection_offset_mm: [2.5, if i == 3 { 1.0 } else { 0.0 }],
                out_of_plane_rad: 0.0,
                in_plane_rad: 0.01,
                source_offset_mm: [0.0, 0.0],
            })
            .collect();
        let g = RtkGeometry {
            projections,
            cylinder_radius_mm: 0.0,
        };
        let back = parse_rtk_xml(&rtk_xml(&g), Path::new("g.xml")).unwrap();
        assert_eq!(back.projections.len(), 5);
        for (a, b) in back.projections.iter().zip(&g.projections) {
            assert!((a.gantry_rad - b.gantry_rad).abs() < 1e-12);
            assert_eq!(a.projection_offset_mm, b.projection_offset_mm);
            assert!((a.in_plane_rad - b.in_plane_rad).abs() < 1e-15);
        }
    }

    #[test]
    fn bad_files_name_the_element() {
        let ok = "<?xml version=\"1.0\"?>\n<RTKThreeDCircularGeometry version=\"3\"><SourceToIsocenterDistance>600</SourceToIsocenterDistance><SourceToDetectorDistance>1000</SourceToDetectorDistance><Projection><GantryAngle>0</GantryAngle></Projection></RTKThreeDCircularGeometry>";
        assert!(parse_rtk_xml(ok, Path::new("g.xml")).is_ok());
        let cases = [
            (ok.replace("version=\"3\"", "version=\"1\""), "version 1"),
            (ok.replace(">600<", ">abc<"), "SourceToIsocenterDistance"),
            (
                ok.replace(">1000<", ">100<"),
                "less than SourceToIsocenterDistance",
            ),
            (
                ok.replace("<GantryAngle>0</GantryAngle>", ""),
                "GantryAngle",
            ),
            (
                ok.replace("<Projection><GantryAngle>0</GantryAngle></Projection>", ""),
                "no views",
            ),
            (
                ok.replace("</Projection>", "<Matrix>1 2 3</Matrix></Projection>"),
                "12",
            ),
            (
                ok.replace(
                    "</Projection>",
                    "<Matrix>1 0 0 0 0 1 0 0 0 0 1 0</Matrix></Projection>",
                ),
                "does not match",
            ),
            (
                ok.replace("</RTKThreeDCircularGeometry>", ""),
                "not valid XML",
            ),
            ("<Other/>".to_string(), "root element"),
        ];
        for (text, want) in cases {
            let e = parse_rtk_xml(&text, Path::new("g.xml"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(want) && e.starts_with("g.xml"),
                "want {want:?} in {e}"
            );
        }
    }
}
