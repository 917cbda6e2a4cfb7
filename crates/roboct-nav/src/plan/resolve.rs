//! Place resolution: a place name or coordinates to a [`Target`], and the check that the robot
//! can stand there.

use crate::error::PlanError;
use crate::geom::{Point, Pose};

use super::{Navigator, Target};

impl Navigator {
    /// Reads a location: a place name, or `x,y` / `x,y,floor` in metres (floor 0 by default
    /// on a one-floor site).
    ///
    /// # Errors
    /// [`PlanError::UnknownPlace`], [`PlanError::BadLocation`] or [`PlanError::UnknownFloor`].
    pub fn resolve(&self, text: &str, what: &'static str) -> Result<Target, PlanError> {
        let t = text.trim();
        if let Some(p) = self.site.place(t) {
            // `Site::check` (run by `new`) gives every place a pose or a bed.
            let (point, heading) = match (p.pose, p.bed) {
                (Some(pose), _) => (pose.point(), Some(pose.yaw_rad)),
                (None, Some(bed)) => {
                    let a = bed.approach(self.robot.front_m(), 0.3);
                    (a.point(), Some(a.yaw_rad))
                }
                (None, None) => {
                    return Err(PlanError::BadLocation {
                        text: t.to_string(),
                        expected: "a place with a pose or a bed".into(),
                    });
                }
            };
            return Ok(Target {
                label: t.to_string(),
                floor: p.floor,
                point,
                heading_rad: heading,
            });
        }
        let parts: Vec<&str> = t.split(',').map(str::trim).collect();
        let looks_numeric = parts.len() >= 2
            && parts
                .iter()
                .all(|s| s.parse::<f64>().is_ok() || s.parse::<i32>().is_ok());
        if !looks_numeric {
            return Err(PlanError::UnknownPlace {
                name: t.to_string(),
                site: self.site.source.clone(),
                suggestions: self.site.similar_places(t),
            });
        }
        let bad = |expected: &str| PlanError::BadLocation {
            text: t.to_string(),
            expected: expected.to_string(),
        };
        if parts.len() > 3 {
            return Err(bad("a place name or x,y[,floor] in metres"));
        }
        let x: f64 = parts[0].parse().map_err(|_| bad("x in metres"))?;
        let y: f64 = parts[1].parse().map_err(|_| bad("y in metres"))?;
        if !x.is_finite() || !y.is_finite() {
            return Err(bad("finite x and y in metres"));
        }
        let floor = match parts.get(2) {
            Some(f) => f
                .parse::<i32>()
                .map_err(|_| bad("the floor as a whole number, e.g. 2"))?,
            None if self.site.floors.len() == 1 => self.site.floors[0].number,
            None => {
                return Err(bad(&format!(
                    "x,y,floor: this site has several floors {:?}",
                    self.site
                        .floors
                        .iter()
                        .map(|f| f.number)
                        .collect::<Vec<_>>()
                )));
            }
        };
        if self.site.floor(floor).is_none() {
            return Err(PlanError::UnknownFloor {
                what,
                floor,
                site: self.site.source.clone(),
                known: self.site.floors.iter().map(|f| f.number).collect(),
            });
        }
        Ok(Target {
            label: t.to_string(),
            floor,
            point: Point::new(x, y),
            heading_rad: None,
        })
    }

    /// Checks that the robot can stand at `t`; `Err` says why not.
    pub(super) fn check_target(&self, t: &Target, what: &'static str) -> Result<(), PlanError> {
        if !(t.point.x.is_finite() && t.point.y.is_finite())
            || t.heading_rad.is_some_and(|h| !h.is_finite())
        {
            return Err(PlanError::BadLocation {
                text: t.label.clone(),
                expected: format!("finite coordinates and heading for the {what}"),
            });
        }
        let Some(fi) = self.floor_index(t.floor) else {
            return Err(PlanError::UnknownFloor {
                what,
                floor: t.floor,
                site: self.site.source.clone(),
                known: self.site.floors.iter().map(|f| f.number).collect(),
            });
        };
        let cm = &self.floors[fi].costmap;
        if cm.cell_of(t.point).is_none() {
            let (x0, y0) = (cm.origin.x, cm.origin.y);
            let (x1, y1) = (
                x0 + cm.width as f64 * cm.resolution_m,
                y0 + cm.height as f64 * cm.resolution_m,
            );
            return Err(PlanError::OutsideMap {
                what,
                label: t.label.clone(),
                x: t.point.x,
                y: t.point.y,
                floor: t.floor,
                extent: [x0, y0, x1, y1],
            });
        }
        let blocked = |reason: String| PlanError::Blocked {
            what,
            label: t.label.clone(),
            x: t.point.x,
            y: t.point.y,
            floor: t.floor,
            reason,
        };
        if let Some(reason) = cm.why_blocked(t.point, Some(&self.site)) {
            return Err(blocked(reason));
        }
        if let Some(h) = t.heading_rad
            && !cm.footprint_free(Pose::new(t.point.x, t.point.y, h))
        {
            return Err(blocked(format!(
                "too tight for the robot's footprint facing {:.0} deg",
                h.to_degrees()
            )));
        }
        // Without a heading the robot may stand any way round, but it must fit one way: its
        // centre can be clear of walls (above) where its 1.6 m footprint fits at no heading
        // (a nook, a short dead end). Checked every degree.
        if t.heading_rad.is_none()
            && !(0..360).any(|deg| {
                let yaw = f64::from(deg).to_radians();
                cm.footprint_free(Pose::new(t.point.x, t.point.y, yaw))
            })
        {
            return Err(blocked(
                "too tight for the robot's footprint at any heading".into(),
            ));
        }
        Ok(())
    }
}
