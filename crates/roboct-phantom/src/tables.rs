//! The Shepp-Logan tables, embedded from `data/` (see `data/SOURCES.md` for their origin).

/// One row of a table, in table units ([-1, 1] cube).
pub(crate) struct Row {
    pub original: f64,
    pub modified: f64,
    pub axes: [f64; 3],
    pub center: [f64; 3],
    pub rotation_deg: f64,
}

fn rows(csv: &str) -> Vec<Vec<f64>> {
    csv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|v| v.trim().parse::<f64>().expect("embedded table is numeric"))
                .collect()
        })
        .collect()
}

pub(crate) fn shepp_logan_2d() -> Vec<Row> {
    // index, original, modified, a, b, x0, y0, rotation
    rows(include_str!("../data/shepp_logan_2d.csv"))
        .into_iter()
        .map(|r| Row {
            original: r[1],
            modified: r[2],
            axes: [r[3], r[4], 1.0],
            center: [r[5], r[6], 0.0],
            rotation_deg: r[7],
        })
        .collect()
}

pub(crate) fn shepp_logan_3d_kak_slaney() -> Vec<Row> {
    // index, koay, modified, a, b, c, x0, y0, z0, rotation about z
    rows(include_str!("../data/shepp_logan_3d_kak_slaney_koay.csv"))
        .into_iter()
        .map(|r| Row {
            original: r[1],
            modified: r[2],
            axes: [r[3], r[4], r[5]],
            center: [r[6], r[7], r[8]],
            rotation_deg: r[9],
        })
        .collect()
}

pub(crate) fn shepp_logan_3d_odl() -> Vec<Row> {
    // index, original, modified, a, b, c, x0, y0, z0, phi, theta, psi (theta = psi = 0 in the table)
    rows(include_str!("../data/shepp_logan_3d_odl.csv"))
        .into_iter()
        .map(|r| {
            debug_assert!(
                r[10] == 0.0 && r[11] == 0.0,
                "ODL table rotates about z only"
            );
            Row {
                original: r[1],
                modified: r[2],
                axes: [r[3], r[4], r[5]],
                center: [r[6], r[7], r[8]],
                rotation_deg: r[9],
            }
        })
        .collect()
}
