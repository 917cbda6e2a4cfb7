//! Phantom heads for the tests: rasterized on a coarse grid with seeded Gaussian noise.

#![allow(dead_code)]

use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use roboct_geometry::{Volume, VolumeGrid};
use roboct_phantom::head::{FindingKind, FindingSpec, HeadOptions, Side, head};
use roboct_phantom::truth::Truth;

/// A head (seed, bleeds as kind, mL, side, HU) on a `voxel_mm` grid over the cranium, with
/// Gaussian noise of `noise_hu`.
pub fn phantom_volume(
    seed: u64,
    bleeds: &[(FindingKind, f64, Side, f64)],
    voxel_mm: f64,
    noise_hu: f32,
) -> (Volume, Truth) {
    phantom_volume_on(seed, bleeds, [voxel_mm, voxel_mm], noise_hu)
}

/// As [`phantom_volume`] on a grid of `[in-plane, slice]` voxel sizes, mm (the phantom is
/// exact along x, so finer in-plane voxels cost less than finer slices).
pub fn phantom_volume_on(
    seed: u64,
    bleeds: &[(FindingKind, f64, Side, f64)],
    voxel_mm: [f64; 2],
    noise_hu: f32,
) -> (Volume, Truth) {
    let h = head(&HeadOptions {
        seed,
        findings: bleeds
            .iter()
            .map(|&(kind, volume_ml, side, hu)| FindingSpec {
                kind,
                volume_ml,
                side,
                hu,
            })
            .collect(),
        ..HeadOptions::default()
    })
    .unwrap();
    let truth = h.truth();
    let c = truth.landmarks["head_center"];
    let n = |mm: f64, s: f64| (mm / s).round() as usize;
    let [inplane, slice] = voxel_mm;
    let grid = VolumeGrid::centered(
        [n(208.0, inplane), n(244.0, inplane), n(180.0, slice)],
        [inplane, inplane, slice],
        [c[0], c[1], c[2] - 5.0],
    )
    .unwrap();
    let r = h.patient.rasterize(&grid, 1);
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let nd = Normal::new(0.0f32, noise_hu.max(1e-6)).unwrap();
    let data = r.hu.data().mapv(|x| x + nd.sample(&mut rng));
    (Volume::from_array(grid, data).unwrap(), truth)
}
