//! Small PNG line plots for the benchmarks: axes with ticks and numbers, a title, one line per
//! series with a legend. Text is drawn with the public-domain 8x8 bitmap font of the
//! `font8x8` crate, so no system font is needed.

use std::path::Path;

use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};

/// One series: a name and its (x, y) points, drawn in order.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
}

/// A plot panel.
#[derive(Clone, Debug)]
pub struct Panel {
    /// Title above the panel.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// The series.
    pub series: Vec<Series>,
    /// Horizontal reference lines (value, label), e.g. a goal.
    pub references: Vec<(f64, String)>,
}

const COLORS: [[u8; 3]; 8] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [23, 190, 207],
];

fn text(img: &mut RgbImage, x: i64, y: i64, s: &str, color: [u8; 3]) {
    for (k, ch) in s.chars().enumerate() {
        let Some(glyph) = font8x8::BASIC_FONTS.get(ch) else {
            continue;
        };
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits >> col & 1 == 1 {
                    put(img, x + k as i64 * 8 + col, y + row as i64, color);
                }
            }
        }
    }
}

fn put(img: &mut RgbImage, x: i64, y: i64, color: [u8; 3]) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, Rgb(color));
    }
}

fn line(
    img: &mut RgbImage,
    (x0, y0): (f64, f64),
    (x1, y1): (f64, f64),
    color: [u8; 3],
    thick: i64,
) {
    let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
    for i in 0..=n {
        let t = i as f64 / n as f64;
        let (x, y) = (
            (x0 + t * (x1 - x0)).round() as i64,
            (y0 + t * (y1 - y0)).round() as i64,
        );
        for dx in -(thick / 2)..=(thick / 2) {
            for dy in -(thick / 2)..=(thick / 2) {
                put(img, x + dx, y + dy, color);
            }
        }
    }
}

/// Numbers for ticks: `lo..=hi` in steps of 1, 2 or 5 times a power of ten.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / 5.0;
    let p = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(p * 10.0);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + 1e-9 * span {
        out.push(t);
        t += step;
    }
    out
}

fn fmt_tick(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Draws the panels side by side into a PNG.
pub fn write_png(path: &Path, panels: &[Panel]) -> Result<(), image::ImageError> {
    let (pw, ph) = (520u32, 400u32);
    let mut img = RgbImage::from_pixel(pw * panels.len().max(1) as u32, ph, Rgb([255, 255, 255]));
    for (i, p) in panels.iter().enumerate() {
        let ox = (i as u32 * pw) as f64;
        let (left, right, top, bottom) =
            (ox + 70.0, ox + pw as f64 - 20.0, 40.0, ph as f64 - 110.0);
        let pts: Vec<(f64, f64)> = p
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .chain(p.references.iter().map(|(v, _)| (f64::NAN, *v)))
            .collect();
        let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
        for (x, y) in &pts {
            if x.is_finite() {
                x0 = x0.min(*x);
                x1 = x1.max(*x);
            }
            y0 = y0.min(*y);
            y1 = y1.max(*y);
        }
        if !(x0.is_finite() && y0.is_finite()) {
            continue;
        }
        y0 = y0.min(0.0);
        let pad = 0.05 * (y1 - y0).max(1e-9);
        y1 += pad;
        let xpad = 0.05 * (x1 - x0).max(1e-9);
        let (x0, x1) = (x0 - xpad, x1 + xpad);
        let sx = |x: f64| left + (x - x0) / (x1 - x0) * (right - left);
        let sy = |y: f64| bottom - (y - y0) / (y1 - y0) * (bottom - top);
        let axis = [0, 0, 0];
        line(&mut img, (left, bottom), (right, bottom), axis, 1);
        line(&mut img, (left, bottom), (left, top), axis, 1);
        for t in ticks(x0, x1) {
            line(&mut img, (sx(t), bottom), (sx(t), bottom + 4.0), axis, 1);
            let s = fmt_tick(t);
            text(
                &mut img,
                sx(t) as i64 - 4 * s.len() as i64,
                bottom as i64 + 8,
                &s,
                axis,
            );
        }
        for t in ticks(y0, y1) {
            line(&mut img, (left - 4.0, sy(t)), (left, sy(t)), axis, 1);
            line(
                &mut img,
                (left + 1.0, sy(t)),
                (right, sy(t)),
                [230, 230, 230],
                1,
            );
            let s = fmt_tick(t);
            text(
                &mut img,
                left as i64 - 8 - 8 * s.len() as i64,
                sy(t) as i64 - 4,
                &s,
                axis,
            );
        }
        text(&mut img, left as i64, 12, &p.title, axis);
        text(
            &mut img,
            ((left + right) / 2.0) as i64 - 4 * p.x_label.len() as i64,
            bottom as i64 + 24,
            &p.x_label,
            axis,
        );
        text(&mut img, ox as i64 + 4, 26, &p.y_label, axis);
        for (v, label) in &p.references {
            let y = sy(*v);
            let mut x = left;
            while x < right {
                line(
                    &mut img,
                    (x, y),
                    ((x + 6.0).min(right), y),
                    [120, 120, 120],
                    1,
                );
                x += 12.0;
            }
            text(
                &mut img,
                right as i64 - 8 * label.len() as i64,
                y as i64 - 10,
                label,
                [90, 90, 90],
            );
        }
        for (k, s) in p.series.iter().enumerate() {
            let c = COLORS[k % COLORS.len()];
            let good: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            for w in good.windows(2) {
                line(
                    &mut img,
                    (sx(w[0].0), sy(w[0].1)),
                    (sx(w[1].0), sy(w[1].1)),
                    c,
                    2,
                );
            }
            for (x, y) in &good {
                line(
                    &mut img,
                    (sx(*x) - 3.0, sy(*y)),
                    (sx(*x) + 3.0, sy(*y)),
                    c,
                    3,
                );
            }
            // Legend below the axes, two columns.
            let (lx, ly) = (
                left + (k % 2) as f64 * 220.0,
                bottom + 44.0 + (k / 2) as f64 * 14.0,
            );
            line(&mut img, (lx, ly + 4.0), (lx + 16.0, ly + 4.0), c, 3);
            text(&mut img, lx as i64 + 22, ly as i64, &s.name, axis);
        }
    }
    img.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plot_is_written_with_its_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plot.png");
        write_png(
            &p,
            &[Panel {
                title: "RMSE".into(),
                x_label: "CTDIvol (mGy)".into(),
                y_label: "HU".into(),
                series: vec![Series {
                    name: "fdk".into(),
                    points: vec![(5.0, 30.0), (20.0, 15.0), (60.0, 8.0)],
                }],
                references: vec![(10.0, "goal".into())],
            }],
        )
        .unwrap();
        let img = image::open(&p).unwrap().to_rgb8();
        let coloured = img.pixels().filter(|px| px.0 == COLORS[0]).count();
        assert!(coloured > 100, "{coloured} line pixels");
        assert_eq!(ticks(0.0, 10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
    }
}
