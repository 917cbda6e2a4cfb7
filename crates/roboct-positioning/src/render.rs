//! The scout as a picture: the AP and lateral topograms side by side (superior at the top),
//! the planned range as two lines across both, the landmarks as crosses with their names, and
//! a caption (target, range, isocentre, or the refusal).

use image::{Rgb, RgbImage};

use crate::localize::Landmarks;
use crate::plan::ScanPlan;
use crate::scout::{Scout, ScoutImage, ScoutView};
use crate::{Refusal, Target};

const RANGE: Rgb<u8> = Rgb([80, 220, 80]);
const ORGAN: Rgb<u8> = Rgb([240, 200, 60]);
const MARK: Rgb<u8> = Rgb([255, 80, 80]);
const TEXT: Rgb<u8> = Rgb([255, 255, 255]);
/// Pixels per mm of the picture.
const PX_PER_MM: f64 = 1.0;
const GAP: u32 = 12;
const CAPTION: u32 = 40;

/// One view's panel: its across range and the picture's mapping.
struct Panel {
    view: ScoutView,
    across_mm: [f64; 2],
    x0: u32,
    width: u32,
}

fn depth(img: &ScoutImage, centre: [f64; 2]) -> f64 {
    match img.pass.view {
        ScoutView::Ap => centre[1] - img.pass.pan_mm[1],
        ScoutView::Lateral => img.pass.pan_mm[0] - centre[0],
    }
}

/// Draws the scout with the plan (or the refusal) on it.
pub fn render_scout(
    scout: &Scout,
    target: Target,
    landmarks: Option<&Landmarks>,
    outcome: Result<&ScanPlan, &Refusal>,
) -> RgbImage {
    let centre = landmarks.map_or([0.0, 0.0], |l| l.center_xy_mm);
    let z_lo = scout
        .passes
        .iter()
        .map(|p| p.z_mm[0])
        .fold(f64::INFINITY, f64::min);
    let z_hi = scout
        .passes
        .iter()
        .map(|p| p.z_mm[p.z_mm.len() - 1])
        .fold(f64::NEG_INFINITY, f64::max);
    if !(z_hi > z_lo) {
        let mut img = RgbImage::new(400, CAPTION + 20);
        caption(&mut img, target, outcome);
        return img;
    }
    let height = ((z_hi - z_lo) * PX_PER_MM).ceil() as u32 + 1;
    let mut panels = Vec::new();
    let mut x0 = 0;
    for view in [ScoutView::Ap, ScoutView::Lateral] {
        let mut r = [f64::INFINITY, f64::NEG_INFINITY];
        for p in scout.of(view) {
            let d = depth(p, centre);
            let c1 = (p.cols() - 1) as f64;
            for a in [p.across_at_depth(0.0, d), p.across_at_depth(c1, d)] {
                r = [r[0].min(a), r[1].max(a)];
            }
        }
        if r[1] > r[0] {
            let width = ((r[1] - r[0]) * PX_PER_MM).ceil() as u32 + 1;
            panels.push(Panel {
                view,
                across_mm: r,
                x0,
                width,
            });
            x0 += width + GAP;
        }
    }
    let width = x0.max(400);
    let mut img = RgbImage::new(width, height + CAPTION);
    let y_of = |z: f64| ((z_hi - z) * PX_PER_MM).round() as i64;
    // Window: 0 to the thickest ray, in mm of water.
    let max = scout
        .passes
        .iter()
        .map(|p| p.line_integrals.iter().fold(0.0f32, |m, v| m.max(*v)) / p.mu_water_per_mm as f32)
        .fold(1.0f32, f32::max);
    for panel in &panels {
        for p in scout.of(panel.view) {
            let d = depth(p, centre);
            for px in 0..panel.width {
                let a = panel.across_mm[0] + px as f64 / PX_PER_MM;
                // The fractional column at this across coordinate.
                let c0 = p.across_at_depth(0.0, d);
                let c1 = p.across_at_depth(1.0, d);
                let col = (a - c0) / (c1 - c0);
                if col < 0.0 || col > (p.cols() - 1) as f64 {
                    continue;
                }
                let col = col.round() as usize;
                for (r, &z) in p.z_mm.iter().enumerate() {
                    let y0 = y_of(z + 0.5 * p.step_mm());
                    let y1 = y_of(z - 0.5 * p.step_mm());
                    let v = p.line_integrals[[r, col]] / p.mu_water_per_mm as f32 / max;
                    let g = (v.clamp(0.0, 1.0).powf(0.7) * 255.0) as u8;
                    for y in y0.max(0)..y1.min(height as i64) {
                        img.put_pixel(panel.x0 + px, y as u32, Rgb([g, g, g]));
                    }
                }
            }
        }
    }
    let hline = |img: &mut RgbImage, z: f64, color: Rgb<u8>, dashed: bool| {
        let y = y_of(z);
        if y < 0 || y >= height as i64 {
            return;
        }
        for panel in &panels {
            for x in 0..panel.width {
                if !dashed || (x / 4) % 2 == 0 {
                    img.put_pixel(panel.x0 + x, y as u32, color);
                }
            }
        }
    };
    if let Ok(plan) = outcome {
        hline(&mut img, plan.organ_z_mm[0], ORGAN, true);
        hline(&mut img, plan.organ_z_mm[1], ORGAN, true);
        hline(&mut img, plan.scan_range_mm[0], RANGE, false);
        hline(&mut img, plan.scan_range_mm[1], RANGE, false);
    }
    if let Some(l) = landmarks {
        for (name, p) in &l.points {
            for panel in &panels {
                let a = p[panel.view.across_axis()];
                let x = panel.x0 as i64 + ((a - panel.across_mm[0]) * PX_PER_MM).round() as i64;
                let y = y_of(p[2]);
                for k in -4i64..=4 {
                    for (dx, dy) in [(k, 0), (0, k)] {
                        put(&mut img, x + dx, y + dy, MARK);
                    }
                }
                if panel.view == ScoutView::Ap {
                    text(&mut img, x + 6, y - 3, name, MARK);
                }
            }
        }
    }
    for panel in &panels {
        text(&mut img, panel.x0 as i64 + 2, 2, panel.view.name(), TEXT);
    }
    caption(&mut img, target, outcome);
    img
}

fn caption(img: &mut RgbImage, target: Target, outcome: Result<&ScanPlan, &Refusal>) {
    let y = img.height() as i64 - CAPTION as i64 + 6;
    let (line1, line2) = match outcome {
        Ok(p) => (
            format!(
                "{target}: scan z {:.1} to {:.1} mm ({} rot)",
                p.scan_range_mm[0],
                p.scan_range_mm[1],
                p.rotations.len()
            ),
            format!(
                "iso {:.1} {:.1} {:.1} mm",
                p.isocenter_mm[0], p.isocenter_mm[1], p.isocenter_mm[2]
            ),
        ),
        Err(r) => (format!("{target}: REFUSED"), r.to_string()),
    };
    text(img, 4, y, &line1, TEXT);
    text(img, 4, y + 12, &line2, TEXT);
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, c);
    }
}

/// 8x8 text (font8x8's basic Latin).
fn text(img: &mut RgbImage, x: i64, y: i64, s: &str, c: Rgb<u8>) {
    use font8x8::UnicodeFonts;
    for (i, ch) in s.chars().enumerate() {
        let Some(glyph) = font8x8::BASIC_FONTS.get(ch) else {
            continue;
        };
        for (gy, bits) in glyph.iter().enumerate() {
            for gx in 0..8 {
                if bits & (1 << gx) != 0 {
                    put(img, x + 8 * i as i64 + gx, y + gy as i64, c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_scout_still_renders_its_caption() {
        let r = Refusal::NoPatient {
            max_line_integral: 0.0,
            threshold: 0.5,
            threshold_water_mm: 25.0,
        };
        let img = render_scout(&Scout::default(), Target::Head, None, Err(&r));
        assert!(img.pixels().any(|p| *p == TEXT));
    }
}
