//! The checks of a [`Site`] that the navigator relies on ([`Site::check`]).

use crate::error::MapError;
use crate::geom::{Point, Polygon, Pose};

use super::{PlaceKind, Site};

impl Site {
    /// Checks everything the navigator relies on, for sites built in code as much as for
    /// loaded ones (the fields are public): at least one floor, unique floor numbers, grids
    /// whose cells match their size with a positive resolution, every place, door, zone and
    /// elevator stop on a known floor with finite coordinates, every place with a pose or a
    /// bed, areas with at least three points and a non-zero area, finite non-negative times,
    /// and each elevator's car convex, on the map of every floor it serves, and straight
    /// ahead of each stop. [`crate::plan::Navigator::new`] calls it.
    ///
    /// # Errors
    /// [`MapError::Site`] naming the first entry at fault and what was expected.
    pub fn check(&self) -> Result<(), MapError> {
        if self.floors.is_empty() {
            return Err(self.site_err("floors".into(), "a site needs at least one floor".into()));
        }
        self.check_floors()?;
        self.check_places()?;
        self.check_doors()?;
        self.check_elevators()?;
        self.check_zones()
    }

    fn site_err(&self, item: String, message: String) -> MapError {
        MapError::Site {
            file: self.source.clone().into(),
            item,
            message,
        }
    }

    /// `floor` is one of the site's.
    fn floor_ok(&self, item: &str, floor: i32) -> Result<(), MapError> {
        if self.floor(floor).is_some() {
            Ok(())
        } else {
            Err(self.site_err(
                item.to_string(),
                format!(
                    "floor {floor} is not among the site's floors {:?}",
                    self.floors.iter().map(|f| f.number).collect::<Vec<_>>()
                ),
            ))
        }
    }

    /// `area` has at least 3 finite points and a non-zero area.
    fn area_ok(&self, item: &str, area: &Polygon) -> Result<(), MapError> {
        if area.vertices.len() >= 3 && area.vertices.iter().all(|&v| finite(v)) && area.area() > 0.0
        {
            Ok(())
        } else {
            Err(self.site_err(
                item.to_string(),
                "an area needs at least 3 finite points and a non-zero area".into(),
            ))
        }
    }

    /// `p` is finite.
    fn pose_ok(&self, item: &str, p: Pose) -> Result<(), MapError> {
        if p.x.is_finite() && p.y.is_finite() && p.yaw_rad.is_finite() {
            Ok(())
        } else {
            Err(self.site_err(item.to_string(), "a pose needs finite x, y and yaw".into()))
        }
    }

    /// Unique floor numbers; grids whose cells match their size, with a finite positive
    /// resolution and a finite origin.
    fn check_floors(&self) -> Result<(), MapError> {
        for (i, f) in self.floors.iter().enumerate() {
            let item = format!("floor {}", f.number);
            if self.floors[..i].iter().any(|g| g.number == f.number) {
                return Err(self.site_err(item, "floor numbers must be unique".into()));
            }
            let g = &f.grid;
            if g.width == 0 || g.height == 0 || g.width.checked_mul(g.height) != Some(g.cells.len())
            {
                return Err(self.site_err(
                    item,
                    format!(
                        "the map must have width x height cells, at least one: {} x {} but {} cells",
                        g.width,
                        g.height,
                        g.cells.len()
                    ),
                ));
            }
            if !(g.resolution_m.is_finite() && g.resolution_m > 0.0 && finite(g.origin)) {
                return Err(self.site_err(
                    item,
                    format!(
                        "the map needs a finite resolution > 0 and a finite origin, got {} m at ({}, {})",
                        crate::fmt_num(g.resolution_m),
                        crate::fmt_m(g.origin.x),
                        crate::fmt_m(g.origin.y)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every place on a known floor, with a finite pose, or a bed with a finite pose and a
    /// positive size.
    fn check_places(&self) -> Result<(), MapError> {
        for p in &self.places {
            let item = format!("place \"{}\"", p.name);
            self.floor_ok(&item, p.floor)?;
            if let Some(pose) = p.pose {
                self.pose_ok(&item, pose)?;
            }
            match (p.kind, p.pose, p.bed) {
                (PlaceKind::Bed, _, None) => {
                    return Err(self.site_err(item, "a bed needs its `bed` geometry".into()));
                }
                (_, None, None) => return Err(self.site_err(item, "needs a `pose`".into())),
                _ => {}
            }
            if let Some(b) = p.bed {
                self.pose_ok(&item, b.pose)?;
                if !(b.length_m.is_finite()
                    && b.length_m > 0.0
                    && b.width_m.is_finite()
                    && b.width_m > 0.0)
                {
                    return Err(
                        self.site_err(item, "bed `length_m` and `width_m` must be > 0".into())
                    );
                }
            }
        }
        Ok(())
    }

    /// Doors: not too many, each on a known floor with an area and finite opening times.
    fn check_doors(&self) -> Result<(), MapError> {
        if self.doors.len() >= usize::from(u16::MAX) {
            return Err(self.site_err(
                "doors".into(),
                format!("at most {} doors are supported", u16::MAX - 1),
            ));
        }
        for d in &self.doors {
            let item = format!("door \"{}\"", d.name);
            self.floor_ok(&item, d.floor)?;
            self.area_ok(&item, &d.area)?;
            if !(d.open_s.is_finite()
                && d.open_s >= 0.0
                && d.assist_s.is_finite()
                && d.assist_s >= 0.0)
            {
                return Err(self.site_err(
                    item,
                    "`open_s` and `assist_s` must be finite and >= 0".into(),
                ));
            }
        }
        Ok(())
    }

    /// Elevators: stops on two floors or more, finite times, a convex car on the map of each
    /// floor it stops at, where the robot can ride.
    fn check_elevators(&self) -> Result<(), MapError> {
        for e in &self.elevators {
            let item = format!("elevator \"{}\"", e.name);
            if e.stops.len() < 2 {
                return Err(self.site_err(item, "needs `stops` on at least two floors".into()));
            }
            if ![e.travel_s_per_floor, e.wait_s, e.door_s]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0)
            {
                return Err(self.site_err(
                    item,
                    "`travel_s_per_floor`, `wait_s` and `door_s` must be finite and >= 0".into(),
                ));
            }
            self.area_ok(&format!("{item}: car"), &e.car)?;
            if !e.car.is_convex() {
                return Err(self.site_err(item, "the `car` area must be convex".into()));
            }
            for (i, &(floor, pose)) in e.stops.iter().enumerate() {
                self.floor_ok(&item, floor)?;
                self.pose_ok(&item, pose)?;
                if e.stops[..i].iter().any(|t| t.0 == floor) {
                    return Err(self.site_err(item, format!("two stops on floor {floor}")));
                }
                let grid = self.floor(floor).map(|f| &f.grid);
                if let Some(v) = e
                    .car
                    .vertices
                    .iter()
                    .find(|&&v| grid.is_none_or(|g| g.cell_of(v).is_none()))
                {
                    return Err(self.site_err(
                        item,
                        format!(
                            "the car's corner ({}, {}) lies outside floor {floor}'s map",
                            crate::fmt_m(v.x),
                            crate::fmt_m(v.y)
                        ),
                    ));
                }
                crate::elevator::ride_point(&e.car, pose).map_err(|why| {
                    self.site_err(item.clone(), format!("the stop on floor {floor}: {why}"))
                })?;
            }
        }
        Ok(())
    }

    /// Speed and keep-out zones: on a known floor, with an area; speeds positive.
    fn check_zones(&self) -> Result<(), MapError> {
        for z in &self.speed_zones {
            let item = format!("speed zone \"{}\"", z.name);
            self.floor_ok(&item, z.floor)?;
            self.area_ok(&item, &z.area)?;
            if !(z.max_speed_mps.is_finite() && z.max_speed_mps > 0.0) {
                return Err(self.site_err(
                    item,
                    format!(
                        "`max_speed_mps` must be > 0, got {}",
                        crate::fmt_num(z.max_speed_mps)
                    ),
                ));
            }
        }
        for k in &self.keep_outs {
            let item = format!("keep-out zone \"{}\"", k.name);
            self.floor_ok(&item, k.floor)?;
            self.area_ok(&item, &k.area)?;
        }
        Ok(())
    }
}

/// Whether both coordinates of `p` are finite.
fn finite(p: Point) -> bool {
    p.x.is_finite() && p.y.is_finite()
}
