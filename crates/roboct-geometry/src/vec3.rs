//! Small 3-vector helpers (`[f64; 3]`, `(x, y, z)`), enough for geometry set-up; kernels use
//! their own f32 arithmetic.

/// A 3-vector `(x, y, z)`.
pub type Vec3 = [f64; 3];

/// a + b
pub fn add(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// a - b
pub fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// s a
pub fn scale(a: Vec3, s: f64) -> Vec3 {
    [a[0] * s, a[1] * s, a[2] * s]
}

/// a . b
pub fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// a x b
pub fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// |a|
pub fn norm(a: Vec3) -> f64 {
    dot(a, a).sqrt()
}

/// a / |a|
pub fn normalize(a: Vec3) -> Vec3 {
    scale(a, 1.0 / norm(a))
}

/// Coordinates of `q` (a vector in the plane spanned by `u` and `v`) along `u` and `v`, which
/// need not be orthogonal nor of unit length: the `(a, b)` with `q = a u + b v`.
pub fn plane_coords(q: Vec3, u: Vec3, v: Vec3) -> (f64, f64) {
    let (uu, uv, vv) = (dot(u, u), dot(u, v), dot(v, v));
    let (qu, qv) = (dot(q, u), dot(q, v));
    let det = uu * vv - uv * uv;
    ((qu * vv - qv * uv) / det, (qv * uu - qu * uv) / det)
}

/// M v for a row-major 3x3 matrix.
pub fn mat_vec(m: [[f64; 3]; 3], v: Vec3) -> Vec3 {
    [dot(m[0], v), dot(m[1], v), dot(m[2], v)]
}

/// A B for row-major 3x3 matrices.
pub fn mat_mul(a: [[f64; 3]; 3], b: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|r| std::array::from_fn(|c| (0..3).map(|k| a[r][k] * b[k][c]).sum()))
}

/// The transpose of a row-major 3x3 matrix.
pub fn transpose(m: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|r| std::array::from_fn(|c| m[c][r]))
}

/// The determinant of a row-major 3x3 matrix.
pub fn det3(m: [[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

/// Solves `M x = v` by Cramer's rule; `None` when `M` is exactly singular. Callers that need
/// a conditioning bound check [`det3`] against their own scale first.
pub fn solve3(m: [[f64; 3]; 3], v: Vec3) -> Option<Vec3> {
    let d = det3(m);
    if d == 0.0 || !d.is_finite() {
        return None;
    }
    Some(std::array::from_fn(|k| {
        let mut mk = m;
        for (row, value) in mk.iter_mut().zip(v) {
            row[k] = value;
        }
        det3(mk) / d
    }))
}

/// The normal equations `(A^T A, A^T y)` of the least-squares fit `y ~ c . basis` over
/// `rows` of `(basis, y)`: solve them with [`solve3`] for `c`.
pub fn normal_equations3(rows: impl IntoIterator<Item = (Vec3, f64)>) -> ([[f64; 3]; 3], Vec3) {
    let mut m = [[0.0f64; 3]; 3];
    let mut v = [0.0f64; 3];
    for (b, y) in rows {
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += b[i] * b[j];
            }
            v[i] += b[i] * y;
        }
    }
    (m, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_recovers_an_exact_plane_and_refuses_a_degenerate_one() {
        // x = 2 - 0.5 y + 0.25 z, sampled on a grid.
        let rows: Vec<(Vec3, f64)> = (0..5)
            .flat_map(|i| (0..4).map(move |j| (i as f64, j as f64 * 3.0)))
            .map(|(y, z)| ([1.0, y, z], 2.0 - 0.5 * y + 0.25 * z))
            .collect();
        let (m, v) = normal_equations3(rows.iter().copied());
        let c = solve3(m, v).unwrap();
        for (got, want) in c.iter().zip([2.0, -0.5, 0.25]) {
            assert!((got - want).abs() < 1e-12, "{c:?}");
        }
        // Every sample at one z: the z coefficient is undetermined.
        let flat = rows.iter().map(|&(b, x)| ([b[0], b[1], 1.0], x));
        let (m, v) = normal_equations3(flat);
        assert_eq!(det3(m), 0.0);
        assert!(solve3(m, v).is_none());
    }

    #[test]
    fn plane_coords_undo_a_combination_of_skewed_axes() {
        let (u, v) = ([2.0, 0.5, 0.0], [0.3, -1.5, 0.7]);
        let q = add(scale(u, 3.25), scale(v, -0.75));
        let (a, b) = plane_coords(q, u, v);
        assert!(
            (a - 3.25).abs() < 1e-12 && (b + 0.75).abs() < 1e-12,
            "{a} {b}"
        );
    }
}
