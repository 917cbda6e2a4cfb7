//! Pictures of floors and routes: the map, inflation, keep-out and speed zones, doors,
//! elevators, beds and the route, one panel per floor with a title.

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::costmap::{CellKind, Costmap, INSCRIBED};
use crate::error::MapError;
use crate::geom::Point;
use crate::plan::{Leg, Navigator, Route};
use crate::site::Site;

const TITLE_PX: u32 = 30;

/// Draws the floors a route visits (or every floor without a route) and writes a PNG.
///
/// # Errors
/// [`MapError::Picture`] naming the file when it cannot be written.
pub fn write_png(nav: &Navigator, route: Option<&Route>, path: &Path) -> Result<(), MapError> {
    let img = render(nav, route);
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|source| MapError::Picture {
            file: path.to_path_buf(),
            source,
        })
}

/// Draws the floors a route visits (or every floor without a route), stacked top to bottom.
pub fn render(nav: &Navigator, route: Option<&Route>) -> RgbImage {
    let site = nav.site();
    let floors: Vec<i32> = match route {
        Some(r) => {
            let mut f: Vec<i32> = Vec::new();
            for leg in &r.legs {
                if let Leg::Drive { floor, .. } = leg
                    && !f.contains(floor)
                {
                    f.push(*floor);
                }
            }
            if f.is_empty() {
                site.floors.iter().map(|f| f.number).collect()
            } else {
                f
            }
        }
        None => site.floors.iter().map(|f| f.number).collect(),
    };
    let largest = floors
        .iter()
        .filter_map(|&f| nav.costmap(f))
        .map(|c| c.width.max(c.height))
        .max()
        .unwrap_or(1);
    // Big maps are shown at a whole-number reduction so that the picture stays viewable.
    let scale = largest.div_ceil(2400).max(1);
    let panels: Vec<RgbImage> = floors
        .iter()
        .filter_map(|&f| nav.costmap(f).map(|cm| floor_panel(nav, cm, route, scale)))
        .collect();
    let w = panels.iter().map(|p| p.width()).max().unwrap_or(1);
    let h: u32 = panels.iter().map(|p| p.height()).sum::<u32>().max(1);
    let mut out = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let mut y = 0;
    for p in panels {
        image::imageops::overlay(&mut out, &p, 0, i64::from(y));
        y += p.height();
    }
    out
}

fn floor_panel(nav: &Navigator, cm: &Costmap, route: Option<&Route>, scale: usize) -> RgbImage {
    let site = nav.site();
    let w = (cm.width / scale).max(1) as u32;
    let h = (cm.height / scale).max(1) as u32;
    let mut img = RgbImage::from_pixel(w, h + TITLE_PX, Rgb([255, 255, 255]));
    paint_cells(&mut img, cm, scale, nav.robot().limits.max_speed_mps);
    let frame = Frame { cm, h, scale };
    draw_site(&mut img, site, &frame);
    if let Some(route) = route {
        draw_route(&mut img, route, &frame);
    }
    let title = panel_title(site, cm, route);
    text(&mut img, 6, 6, &title, 2, [0, 0, 0]);
    img
}

/// Map metres to a panel's pixels (below its title).
struct Frame<'a> {
    cm: &'a Costmap,
    /// The map's height, pixels.
    h: u32,
    /// Cells per pixel.
    scale: usize,
}

impl Frame<'_> {
    fn to_px(&self, p: Point) -> (f64, f64) {
        let (cm, scale) = (self.cm, self.scale);
        let x = (p.x - cm.origin.x) / cm.resolution_m / scale as f64;
        let y = f64::from(self.h) - (p.y - cm.origin.y) / cm.resolution_m / scale as f64
            + f64::from(TITLE_PX);
        (x, y)
    }

    fn px_per_m(&self) -> f64 {
        1.0 / self.cm.resolution_m / self.scale as f64
    }
}

/// The costmap, `scale` x `scale` cells a pixel: obstacles, unknown space, keep-outs, dynamic
/// obstacles, slow zones (`slow_speed`: the robot's top speed), and the cost near walls.
fn paint_cells(img: &mut RgbImage, cm: &Costmap, scale: usize, slow_speed: f64) {
    let w = (cm.width / scale).max(1) as u32;
    let h = (cm.height / scale).max(1) as u32;
    for py in 0..h {
        for px in 0..w {
            // Worst cell of the block decides its colour.
            let mut worst = 0u8;
            let mut kind = CellKind::Free as u8;
            let mut speed = f64::INFINITY;
            for dy in 0..scale {
                for dx in 0..scale {
                    let cx = px as usize * scale + dx;
                    let cy = cm.height - 1 - (py as usize * scale + dy);
                    let i = cy * cm.width + cx;
                    worst = worst.max(cm.cost[i]);
                    if cm.kind[i] != CellKind::Free as u8 && kind != CellKind::Obstacle as u8 {
                        kind = cm.kind[i];
                    }
                    speed = speed.min(cm.speed_at(i));
                }
            }
            let c = block_colour((px, py), kind, worst, speed, slow_speed);
            img.put_pixel(px, py + TITLE_PX, Rgb(c));
        }
    }
}

/// The colour of a block of cells at pixel `(px, py)`: its most significant `kind`, its
/// `worst` cost, its lowest `speed` limit.
fn block_colour((px, py): (u32, u32), kind: u8, worst: u8, speed: f64, slow_speed: f64) -> [u8; 3] {
    match kind {
        k if k == CellKind::Obstacle as u8 => [30, 30, 30],
        k if k == CellKind::Unknown as u8 => [190, 190, 190],
        k if k == CellKind::KeepOut as u8 => {
            // Red hatching over a pale red.
            if (px + py) % 8 < 3 {
                [200, 30, 30]
            } else {
                [250, 200, 200]
            }
        }
        k if k == CellKind::Dynamic as u8 => [230, 120, 0],
        _ => {
            let base = if speed < slow_speed * 0.45 {
                [225, 238, 255] // slow zone (wards): pale blue
            } else if speed < slow_speed * 0.9 {
                [235, 245, 255]
            } else {
                [255, 255, 255]
            };
            if worst >= INSCRIBED {
                [250, 190, 140] // where the robot's centre cannot go
            } else if worst > 0 {
                let t = f64::from(worst) / 252.0;
                blend(base, [255, 215, 170], t * 0.9)
            } else {
                base
            }
        }
    }
}

/// The doors, beds and elevator stops of the panel's floor.
fn draw_site(img: &mut RgbImage, site: &Site, frame: &Frame<'_>) {
    let cm = frame.cm;
    let to_px = |p: Point| frame.to_px(p);
    let px_per_m = frame.px_per_m();
    for d in site.doors.iter().filter(|d| d.floor == cm.floor) {
        let colour = if d.automatic {
            [0, 170, 60]
        } else {
            [0, 120, 200]
        };
        let (lo, hi) = d.area.bounds();
        let (x0, y1) = to_px(lo);
        let (x1, y0) = to_px(hi);
        fill_rect(img, x0, y0, x1, y1, colour);
    }
    for p in site.places.iter().filter(|p| p.floor == cm.floor) {
        if let Some(b) = p.bed {
            let o = b.outline();
            for k in 0..o.vertices.len() {
                let (a, c) = (
                    to_px(o.vertices[k]),
                    to_px(o.vertices[(k + 1) % o.vertices.len()]),
                );
                line(img, a, c, 1.0, [120, 80, 160]);
            }
            let head = b
                .pose
                .point()
                .offset(b.pose.yaw_rad, b.length_m / 2.0 - 0.25);
            disc(img, to_px(head), 0.2 * px_per_m, [120, 80, 160]);
        }
    }
    for e in &site.elevators {
        if let Some(stop) = e.stop_on(cm.floor) {
            let (x, y) = to_px(stop.point());
            let r = 0.5 * px_per_m;
            fill_rect(img, x - r, y - r, x + r, y + r, [140, 60, 200]);
            text(
                img,
                (x + r + 2.0) as i64,
                (y - 6.0) as i64,
                &e.name,
                1,
                [140, 60, 200],
            );
        }
    }
}

/// The route's drives on the panel's floor, its start and its end with the final heading.
fn draw_route(img: &mut RgbImage, route: &Route, frame: &Frame<'_>) {
    let cm = frame.cm;
    let to_px = |p: Point| frame.to_px(p);
    let px_per_m = frame.px_per_m();
    let width = (0.25 * px_per_m).max(2.0);
    for leg in &route.legs {
        if let Leg::Drive { floor, points, .. } = leg
            && *floor == cm.floor
        {
            for w in points.windows(2) {
                line(img, to_px(w[0]), to_px(w[1]), width, [20, 60, 220]);
            }
            for p in points {
                disc(img, to_px(*p), width * 0.9, [20, 60, 220]);
            }
        }
    }
    let drives: Vec<&Leg> = route.legs.iter().collect();
    if let Some(Leg::Drive { floor, points, .. }) = drives.first()
        && *floor == cm.floor
        && let Some(&p) = points.first()
    {
        disc(img, to_px(p), 0.5 * px_per_m, [0, 170, 0]);
    }
    if let Some(Leg::Drive {
        floor,
        points,
        final_heading_rad,
        ..
    }) = drives.last()
        && *floor == cm.floor
        && let Some(&p) = points.last()
    {
        disc(img, to_px(p), 0.5 * px_per_m, [220, 0, 0]);
        let tip = p.offset(*final_heading_rad, 1.2);
        line(img, to_px(p), to_px(tip), width, [220, 0, 0]);
    }
}

/// The panel's title: the floor, and the route's figures.
fn panel_title(site: &Site, cm: &Costmap, route: Option<&Route>) -> String {
    let floor_name = site
        .floor(cm.floor)
        .map(|f| f.name.clone())
        .unwrap_or_default();
    let mut title = format!("FLOOR {}", cm.floor);
    if !floor_name.is_empty() {
        title.push_str(&format!(": {floor_name}"));
    }
    if let Some(r) = route {
        title.push_str(&format!(
            "   ROUTE {} TO {}: {:.0} M, {:.0} S, {:.1} KJ",
            r.from,
            r.to,
            r.length_m,
            r.time_s,
            r.energy_j / 1000.0
        ));
    }
    title
}

fn blend(a: [u8; 3], b: [u8; 3], t: f64) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    [0, 1, 2].map(|i| (f64::from(a[i]) * (1.0 - t) + f64::from(b[i]) * t).round() as u8)
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: [u8; 3]) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, Rgb(c));
    }
}

fn fill_rect(img: &mut RgbImage, x0: f64, y0: f64, x1: f64, y1: f64, c: [u8; 3]) {
    for y in y0.min(y1).floor() as i64..=y0.max(y1).ceil() as i64 {
        for x in x0.min(x1).floor() as i64..=x0.max(x1).ceil() as i64 {
            put(img, x, y, c);
        }
    }
}

fn disc(img: &mut RgbImage, (cx, cy): (f64, f64), r: f64, c: [u8; 3]) {
    let r = r.max(1.0);
    for y in (cy - r).floor() as i64..=(cy + r).ceil() as i64 {
        for x in (cx - r).floor() as i64..=(cx + r).ceil() as i64 {
            if (x as f64 - cx).powi(2) + (y as f64 - cy).powi(2) <= r * r {
                put(img, x, y, c);
            }
        }
    }
}

fn line(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), width: f64, c: [u8; 3]) {
    let len = (b.0 - a.0).hypot(b.1 - a.1);
    let steps = (len * 2.0).ceil().max(1.0) as usize;
    for k in 0..=steps {
        let t = k as f64 / steps as f64;
        disc(
            img,
            (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t),
            width / 2.0,
            c,
        );
    }
}

/// Writes `s` in a 5x7 pixel font scaled by `scale`; lower case is shown as upper case.
fn text(img: &mut RgbImage, x: i64, y: i64, s: &str, scale: i64, c: [u8; 3]) {
    let mut cx = x;
    for ch in s.chars() {
        let rows = glyph(ch.to_ascii_uppercase());
        for (ry, row) in rows.iter().enumerate() {
            for rx in 0..5 {
                if row & (0x10 >> rx) != 0 {
                    for sy in 0..scale {
                        for sx in 0..scale {
                            put(img, cx + rx * scale + sx, y + ry as i64 * scale + sy, c);
                        }
                    }
                }
            }
        }
        cx += 6 * scale;
    }
}

/// A classic 5x7 font: seven rows of five bits, most significant bit leftmost.
fn glyph(c: char) -> [u8; 7] {
    match c {
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        ',' => [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '/' => [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        '>' => [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08],
        _ => [0; 7],
    }
}
