//! Occupancy grids in the ROS `map_server` format (a PGM or PNG image plus a YAML file), so maps
//! made by any SLAM tool (slam_toolbox, gmapping, cartographer) load unchanged.
//!
//! The YAML fields and their meaning follow the `map_server` documentation: `image` (path
//! relative to the YAML file), `resolution` (metres per cell), `origin` (`[x, y, yaw]` of the
//! lower-left cell), `negate`, `occupied_thresh`, `free_thresh`, optional `mode` (`trinary`,
//! `scale`, `raw`). A pixel of value `v` has occupancy probability `p = (255 - v) / 255`
//! (`v / 255` with `negate: 1`), colour channels averaged; `p > occupied_thresh` is occupied,
//! `p < free_thresh` free, anything between unknown (in `scale` mode: a graded cost).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::MapError;
use crate::geom::Point;

/// Occupancy of one cell, as in ROS `nav_msgs/OccupancyGrid`.
pub type Occupancy = i8;
/// The cell is not known (never observed).
pub const UNKNOWN: Occupancy = -1;
/// The cell is free.
pub const FREE: Occupancy = 0;
/// The cell is occupied.
pub const OCCUPIED: Occupancy = 100;

/// A 2-D occupancy grid of one floor. Row 0 is the bottom row (smallest y), as in ROS.
#[derive(Clone, Debug)]
pub struct OccupancyGrid {
    /// Cells along x.
    pub width: usize,
    /// Cells along y.
    pub height: usize,
    /// Metres per cell.
    pub resolution_m: f64,
    /// Map-frame position of the lower-left corner of cell (0, 0), metres.
    pub origin: Point,
    /// `width * height` cells, row-major from the bottom row: -1 unknown, 0..=100 occupancy.
    pub cells: Vec<Occupancy>,
}

impl OccupancyGrid {
    /// A grid of `width x height` cells all set to `fill`.
    ///
    /// # Errors
    /// [`MapError::TooLarge`] when the cells cannot be allocated.
    pub fn new(
        width: usize,
        height: usize,
        resolution_m: f64,
        origin: Point,
        fill: Occupancy,
    ) -> Result<Self, MapError> {
        let n = width
            .checked_mul(height)
            .ok_or_else(|| MapError::too_large("<new grid>", width, height, 0))?;
        let mut cells = Vec::new();
        cells
            .try_reserve_exact(n)
            .map_err(|_| MapError::too_large("<new grid>", width, height, 0))?;
        cells.resize(n, fill);
        Ok(Self {
            width,
            height,
            resolution_m,
            origin,
            cells,
        })
    }

    /// Index of cell `(cx, cy)`.
    #[inline]
    pub fn index(&self, cx: usize, cy: usize) -> usize {
        cy * self.width + cx
    }

    /// The cell containing map point `p`, or `None` outside the grid.
    pub fn cell_of(&self, p: Point) -> Option<(usize, usize)> {
        let fx = (p.x - self.origin.x) / self.resolution_m;
        let fy = (p.y - self.origin.y) / self.resolution_m;
        if fx < 0.0 || fy < 0.0 || !fx.is_finite() || !fy.is_finite() {
            return None;
        }
        let (cx, cy) = (fx as usize, fy as usize);
        (cx < self.width && cy < self.height).then_some((cx, cy))
    }

    /// The map point at the centre of cell `(cx, cy)`.
    pub fn cell_centre(&self, cx: usize, cy: usize) -> Point {
        Point::new(
            self.origin.x + (cx as f64 + 0.5) * self.resolution_m,
            self.origin.y + (cy as f64 + 0.5) * self.resolution_m,
        )
    }

    /// Width and height of the grid in metres.
    pub fn size_m(&self) -> (f64, f64) {
        (
            self.width as f64 * self.resolution_m,
            self.height as f64 * self.resolution_m,
        )
    }

    /// Sets every cell whose centre lies in the axis-aligned rectangle to `value`.
    pub fn fill_rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, value: Occupancy) {
        let r = self.resolution_m;
        let c0 = (((x0.min(x1) - self.origin.x) / r - 0.5).ceil().max(0.0)) as usize;
        let c1 = ((x0.max(x1) - self.origin.x) / r - 0.5).floor();
        let r0 = (((y0.min(y1) - self.origin.y) / r - 0.5).ceil().max(0.0)) as usize;
        let r1 = ((y0.max(y1) - self.origin.y) / r - 0.5).floor();
        if c1 < 0.0 || r1 < 0.0 {
            return;
        }
        let c1 = (c1 as usize).min(self.width.saturating_sub(1));
        let r1 = (r1 as usize).min(self.height.saturating_sub(1));
        for cy in r0..=r1 {
            let row = cy * self.width;
            for cx in c0..=c1 {
                self.cells[row + cx] = value;
            }
        }
    }
}

/// How image values become occupancy (`mode` in the YAML).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MapMode {
    /// Occupied, free or unknown by the two thresholds (the default).
    #[default]
    Trinary,
    /// Like trinary, but values between the thresholds become graded occupancy 0..99.
    Scale,
    /// The pixel value is the occupancy 0..=100; 255 is unknown.
    Raw,
}

/// The YAML half of a ROS map, as written by `map_saver`.
#[derive(Clone, Debug, Deserialize)]
pub struct RosMapYaml {
    /// Image path, relative to the YAML file.
    pub image: PathBuf,
    /// Metres per cell.
    pub resolution: f64,
    /// `[x, y, yaw]` of the lower-left cell's corner.
    pub origin: Vec<f64>,
    /// 1 to invert the image (white occupied).
    pub negate: i64,
    /// Probability above which a cell is occupied.
    pub occupied_thresh: f64,
    /// Probability below which a cell is free.
    pub free_thresh: f64,
    /// How values are interpreted (default trinary).
    #[serde(default)]
    pub mode: MapMode,
}

/// How large a map may be.
#[derive(Clone, Copy, Debug)]
pub struct MapLimits {
    /// Most cells, all floors together.
    pub max_cells: u64,
}

/// Bytes the navigation stack keeps per map cell (grid, costmap layers, search state, heuristic
/// tables, picture), used to turn available memory into a cell limit.
pub const BYTES_PER_CELL: u64 = 48;

impl MapLimits {
    /// The limit this machine's available memory allows (`MemAvailable` in `/proc/meminfo`
    /// divided by [`BYTES_PER_CELL`]), or 2^28 cells where that cannot be read.
    pub fn from_available_memory() -> Self {
        let avail = fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
                .map(|kb| kb * 1024)
        });
        Self {
            max_cells: avail.map_or(1 << 28, |b| b / BYTES_PER_CELL),
        }
    }
}

impl Default for MapLimits {
    fn default() -> Self {
        Self::from_available_memory()
    }
}

fn check_field(
    yaml: &Path,
    field: &'static str,
    ok: bool,
    expected: &str,
    got: String,
) -> Result<(), MapError> {
    if ok {
        Ok(())
    } else {
        Err(MapError::Field {
            file: yaml.to_path_buf(),
            field,
            expected: expected.to_string(),
            got,
        })
    }
}

/// Reads and checks the YAML half of a ROS map.
///
/// # Errors
/// [`MapError::Read`], [`MapError::Yaml`] (a missing or mistyped field, named) or
/// [`MapError::Field`] (a value out of range, named with what was expected).
pub fn read_ros_yaml(yaml: &Path) -> Result<RosMapYaml, MapError> {
    let text = fs::read_to_string(yaml).map_err(|source| MapError::Read {
        file: yaml.to_path_buf(),
        source,
    })?;
    let m: RosMapYaml = serde_yaml_ng::from_str(&text).map_err(|e| MapError::Yaml {
        file: yaml.to_path_buf(),
        message: e.to_string(),
    })?;
    check_field(
        yaml,
        "resolution",
        m.resolution.is_finite() && m.resolution > 0.0,
        "a number of metres per cell > 0",
        crate::fmt_num(m.resolution),
    )?;
    check_field(
        yaml,
        "origin",
        m.origin.len() == 3 && m.origin.iter().all(|v| v.is_finite()),
        "[x, y, yaw] (three numbers)",
        format!("{:?}", m.origin),
    )?;
    check_field(
        yaml,
        "origin",
        m.origin.get(2).is_some_and(|yaw| yaw.abs() < 1e-9),
        "a yaw of 0 (rotated map origins are not supported)",
        format!("{:?}", m.origin),
    )?;
    check_field(
        yaml,
        "negate",
        m.negate == 0 || m.negate == 1,
        "0 or 1",
        m.negate.to_string(),
    )?;
    check_field(
        yaml,
        "occupied_thresh",
        (0.0..=1.0).contains(&m.occupied_thresh),
        "a probability in [0, 1]",
        crate::fmt_num(m.occupied_thresh),
    )?;
    check_field(
        yaml,
        "free_thresh",
        (0.0..=1.0).contains(&m.free_thresh) && m.free_thresh < m.occupied_thresh,
        "a probability in [0, 1] below occupied_thresh",
        crate::fmt_num(m.free_thresh),
    )?;
    Ok(m)
}

/// Loads a ROS map (the YAML file and the image it names).
///
/// # Errors
/// Every way the files can be wrong gives a [`MapError`] naming the file and field: a missing
/// or unreadable YAML or image, a missing or mistyped field, a value out of range, an image
/// larger than `limits` allows (checked from its header, before decoding).
pub fn load_ros_map(yaml: &Path, limits: MapLimits) -> Result<OccupancyGrid, MapError> {
    let meta = read_ros_yaml(yaml)?;
    let image_path = yaml
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(&meta.image);
    let image_err = |message: String| MapError::Image {
        image: image_path.clone(),
        yaml: yaml.to_path_buf(),
        message,
    };
    let file = fs::File::open(&image_path).map_err(|e| image_err(e.to_string()))?;
    let reader = image::ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| image_err(e.to_string()))?;
    if reader.format().is_none() {
        return Err(image_err(
            "not a PGM or PNG image (unrecognised header)".into(),
        ));
    }
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| image_err(e.to_string()))?;
    let cells = u64::from(w) * u64::from(h);
    if cells > limits.max_cells {
        return Err(MapError::too_large(
            &image_path.display().to_string(),
            w as usize,
            h as usize,
            limits.max_cells,
        ));
    }
    if cells == 0 {
        return Err(image_err("the image has no pixels".into()));
    }
    let file = fs::File::open(&image_path).map_err(|e| image_err(e.to_string()))?;
    let mut reader = image::ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| image_err(e.to_string()))?;
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(cells.saturating_mul(8).max(1 << 20));
    reader.limits(image_limits);
    let img = reader.decode().map_err(|e| image_err(e.to_string()))?;
    let has_alpha = img.color().has_alpha();
    let la = img.into_luma_alpha8();
    let (w, h) = (w as usize, h as usize);
    let mut grid = OccupancyGrid::new(
        w,
        h,
        meta.resolution,
        Point::new(meta.origin[0], meta.origin[1]),
        UNKNOWN,
    )?;
    for (ix, iy, px) in la.enumerate_pixels() {
        let (v, a) = (px.0[0], px.0[1]);
        let value = occupancy_of_pixel(&meta, v, has_alpha.then_some(a));
        // Image row 0 is the top of the map; grid row 0 is the bottom.
        let cy = h - 1 - iy as usize;
        grid.cells[cy * w + ix as usize] = value;
    }
    Ok(grid)
}

/// The `map_server` rule for one pixel (luma `v`, alpha when the image has one).
pub fn occupancy_of_pixel(meta: &RosMapYaml, v: u8, alpha: Option<u8>) -> Occupancy {
    if meta.mode == MapMode::Raw {
        return match v {
            255 => UNKNOWN,
            0..=100 => v as Occupancy,
            // Values a raw map should not hold count as occupied: the safe reading.
            _ => OCCUPIED,
        };
    }
    if meta.mode == MapMode::Scale && alpha == Some(0) {
        return UNKNOWN;
    }
    let p = if meta.negate == 1 {
        f64::from(v) / 255.0
    } else {
        (255.0 - f64::from(v)) / 255.0
    };
    if p > meta.occupied_thresh {
        OCCUPIED
    } else if p < meta.free_thresh {
        FREE
    } else if meta.mode == MapMode::Scale {
        (99.0 * (p - meta.free_thresh) / (meta.occupied_thresh - meta.free_thresh)).round()
            as Occupancy
    } else {
        UNKNOWN
    }
}

/// Writes a grid as a ROS map: `<dir>/<name>.pgm` and `<dir>/<name>.yaml`, in `map_saver`'s
/// convention (occupied 0, free 254, unknown 205; thresholds 0.65 and 0.196). Returns the YAML
/// path.
///
/// # Errors
/// [`MapError::Write`] naming the file that could not be written.
pub fn save_ros_map(grid: &OccupancyGrid, dir: &Path, name: &str) -> Result<PathBuf, MapError> {
    let pgm = dir.join(format!("{name}.pgm"));
    let yaml = dir.join(format!("{name}.yaml"));
    let write_err = |file: &Path| {
        let file = file.to_path_buf();
        move |source| MapError::Write { file, source }
    };
    let mut out = std::io::BufWriter::new(fs::File::create(&pgm).map_err(write_err(&pgm))?);
    write!(
        out,
        "P5\n# roboct map {name}, {} m/cell\n{} {}\n255\n",
        grid.resolution_m, grid.width, grid.height
    )
    .map_err(write_err(&pgm))?;
    let mut row = vec![0u8; grid.width];
    for cy in (0..grid.height).rev() {
        for (cx, px) in row.iter_mut().enumerate() {
            *px = match grid.cells[cy * grid.width + cx] {
                UNKNOWN => 205,
                v if v >= 65 => 0,
                v if v <= 19 => 254,
                _ => 205,
            };
        }
        out.write_all(&row).map_err(write_err(&pgm))?;
    }
    out.flush().map_err(write_err(&pgm))?;
    let text = format!(
        "image: {name}.pgm\nresolution: {}\norigin: [{}, {}, 0.0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.196\n",
        grid.resolution_m, grid.origin.x, grid.origin.y
    );
    fs::write(&yaml, text).map_err(write_err(&yaml))?;
    Ok(yaml)
}

/// Whether a YAML file is a ROS map (has an `image` key) rather than a site file.
pub(crate) fn looks_like_ros_map(path: &Path) -> Result<bool, MapError> {
    let file = fs::File::open(path).map_err(|source| MapError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|source| MapError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        let l = line.trim_start();
        if line.starts_with("image:") || (l.starts_with("image:") && l.len() == line.len()) {
            return Ok(true);
        }
        if line.starts_with("floors:") {
            return Ok(false);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(mode: MapMode, negate: i64) -> RosMapYaml {
        RosMapYaml {
            image: "x.pgm".into(),
            resolution: 0.05,
            origin: vec![0.0, 0.0, 0.0],
            negate,
            occupied_thresh: 0.65,
            free_thresh: 0.196,
            mode,
        }
    }

    #[test]
    fn map_server_pixel_rule() {
        let m = meta(MapMode::Trinary, 0);
        assert_eq!(occupancy_of_pixel(&m, 0, None), OCCUPIED);
        assert_eq!(occupancy_of_pixel(&m, 254, None), FREE);
        assert_eq!(occupancy_of_pixel(&m, 205, None), UNKNOWN);
        let n = meta(MapMode::Trinary, 1);
        assert_eq!(occupancy_of_pixel(&n, 0, None), FREE);
        assert_eq!(occupancy_of_pixel(&n, 255, None), OCCUPIED);
        let s = meta(MapMode::Scale, 0);
        let mid = occupancy_of_pixel(&s, 128, None);
        assert!((1..99).contains(&mid), "{mid}");
        assert_eq!(occupancy_of_pixel(&s, 0, Some(0)), UNKNOWN);
        let r = meta(MapMode::Raw, 0);
        assert_eq!(occupancy_of_pixel(&r, 42, None), 42);
        assert_eq!(occupancy_of_pixel(&r, 255, None), UNKNOWN);
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = OccupancyGrid::new(7, 5, 0.1, Point::new(-1.0, 2.0), FREE).unwrap();
        let (a, b) = (g.index(1, 0), g.index(6, 4));
        g.cells[a] = OCCUPIED;
        g.cells[b] = UNKNOWN;
        let yaml = save_ros_map(&g, dir.path(), "f").unwrap();
        let back = load_ros_map(&yaml, MapLimits { max_cells: 1000 }).unwrap();
        assert_eq!(back.cells, g.cells);
        assert_eq!((back.width, back.height), (7, 5));
        assert_eq!(back.origin, g.origin);
        assert!(looks_like_ros_map(&yaml).unwrap());
    }

    #[test]
    fn cells_and_points() {
        let g = OccupancyGrid::new(10, 4, 0.5, Point::new(1.0, 1.0), FREE).unwrap();
        assert_eq!(g.cell_of(Point::new(1.1, 1.1)), Some((0, 0)));
        assert_eq!(g.cell_of(Point::new(5.9, 2.9)), Some((9, 3)));
        assert_eq!(g.cell_of(Point::new(6.1, 2.9)), None);
        assert_eq!(g.cell_of(Point::new(0.9, 2.0)), None);
        assert_eq!(g.cell_centre(0, 0), Point::new(1.25, 1.25));
    }
}
