//! Physical quantities at API edges.
//!
//! Inside numeric kernels we use bare `f32`/`f64` with the unit in the variable name
//! (`voxel_mm`, `angle_rad`); at the boundaries between crates a newtype makes a unit mistake a
//! compile error. Lengths are in millimetres as in DICOM; angles are stored in radians and shown
//! in degrees.

use std::fmt;
use std::ops::{Add, Div, Mul, Sub};

macro_rules! quantity {
    ($(#[$doc:meta])* $name:ident, $suffix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub f64);

        impl $name {
            /// The bare value in this type's unit.
            pub fn get(self) -> f64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match f.precision() {
                    Some(p) => write!(f, "{:.*} {}", p, self.0, $suffix),
                    None => write!(f, "{} {}", self.0, $suffix),
                }
            }
        }

        impl Add for $name {
            type Output = Self;
            fn add(self, rhs: Self) -> Self {
                Self(self.0 + rhs.0)
            }
        }

        impl Sub for $name {
            type Output = Self;
            fn sub(self, rhs: Self) -> Self {
                Self(self.0 - rhs.0)
            }
        }

        impl Mul<f64> for $name {
            type Output = Self;
            fn mul(self, rhs: f64) -> Self {
                Self(self.0 * rhs)
            }
        }

        impl Div<f64> for $name {
            type Output = Self;
            fn div(self, rhs: f64) -> Self {
                Self(self.0 / rhs)
            }
        }

        impl Div for $name {
            type Output = f64;
            fn div(self, rhs: Self) -> f64 {
                self.0 / rhs.0
            }
        }

        impl std::iter::Sum for $name {
            fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
                Self(iter.map(|q| q.0).sum())
            }
        }
    };
}

quantity!(
    /// A length in millimetres.
    Mm, "mm"
);
quantity!(
    /// A CT number in Hounsfield units (water 0, air -1000).
    Hu, "HU"
);
quantity!(
    /// An absorbed dose (CTDIvol) in milligray.
    Mgy, "mGy"
);
quantity!(
    /// A dose-length product in milligray centimetres.
    MgyCm, "mGy·cm"
);
quantity!(
    /// An energy in joules.
    Joules, "J"
);
quantity!(
    /// A duration in seconds.
    Seconds, "s"
);
quantity!(
    /// A length in metres (maps and routes).
    Metres, "m"
);

impl Mm {
    /// Converts to metres.
    pub fn to_metres(self) -> Metres {
        Metres(self.0 / 1000.0)
    }
}

impl Metres {
    /// Converts to millimetres.
    pub fn to_mm(self) -> Mm {
        Mm(self.0 * 1000.0)
    }
}

/// Linear attenuation of water at 70 keV in 1/mm (NIST XCOM, via `shared/reference/physics`:
/// 0.1929 cm^2/g x 0.99823 g/cm^3 at 20 C would give 0.01926; we use 0.01929/mm, the value
/// our simulator's water is made of). The conversion `hu_from_mu` needs one fixed reference so
/// that the same volume always maps to the same HU.
pub const MU_WATER_70KEV_PER_MM: f64 = 0.019_29;

/// Hounsfield units from a linear attenuation coefficient, given the water and air values.
///
/// HU = 1000 (mu - mu_water) / (mu_water - mu_air).
pub fn hu_from_mu(mu_per_mm: f64, mu_water_per_mm: f64, mu_air_per_mm: f64) -> Hu {
    Hu(1000.0 * (mu_per_mm - mu_water_per_mm) / (mu_water_per_mm - mu_air_per_mm))
}

/// The inverse of [`hu_from_mu`].
pub fn mu_from_hu(hu: Hu, mu_water_per_mm: f64, mu_air_per_mm: f64) -> f64 {
    mu_water_per_mm + hu.0 / 1000.0 * (mu_water_per_mm - mu_air_per_mm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_carries_the_unit() {
        assert_eq!(format!("{:.1}", Mm(2.25)), "2.2 mm");
        assert_eq!(format!("{}", Joules(3.0)), "3 J");
    }

    #[test]
    fn water_and_air_map_to_the_hounsfield_anchors() {
        let w = MU_WATER_70KEV_PER_MM;
        assert!((hu_from_mu(w, w, 0.0).0).abs() < 1e-12);
        assert!((hu_from_mu(0.0, w, 0.0).0 + 1000.0).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn hu_round_trips(mu in 0.0f64..0.1) {
            let w = MU_WATER_70KEV_PER_MM;
            let back = mu_from_hu(hu_from_mu(mu, w, 0.0), w, 0.0);
            prop_assert!((back - mu).abs() < 1e-12);
        }

        #[test]
        fn metres_round_trip(m in -1e4f64..1e4) {
            prop_assert!((Metres(m).to_mm().to_metres().0 - m).abs() < 1e-9);
        }
    }
}
