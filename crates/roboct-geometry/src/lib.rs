//! Scanner geometry, volume grids and volumes for roboct.
//!
//! See the crate README for the axes, angles, index orders and units used
//! everywhere in roboct.

pub mod grid;
pub mod volume;

pub use grid::{GridError, VolumeGrid};
pub use volume::{Volume, VolumeSlab};
