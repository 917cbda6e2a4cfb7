//! Property: on random maps, every route the planner returns is collision-free for the
//! robot's full footprint (straight moves and turns in place alike), starts and ends where
//! asked, and planning never panics; the grid search finds the same optimal cost as the
//! `pathfinding` crate's Dijkstra.

mod common;

use proptest::prelude::*;
use roboct_nav::geom::Point;
use roboct_nav::map::{FREE, OCCUPIED, OccupancyGrid};
use roboct_nav::plan::{Leg, Navigator, PlannerOptions};
use roboct_nav::robot::RobotModel;
use roboct_nav::search::{SearchGrid, SearchState};
use roboct_nav::site::Site;

/// A 12 m x 9 m room at 5 cm with random furniture (boxes) and a random wall with a gap.
fn random_map(
    boxes: &[(f64, f64, f64, f64)],
    wall_x: f64,
    gap_y: f64,
    gap_w: f64,
) -> OccupancyGrid {
    let mut g = OccupancyGrid::new(240, 180, 0.05, Point::new(0.0, 0.0), FREE).unwrap();
    // Outer walls.
    g.fill_rect(0.0, 0.0, 12.0, 0.2, OCCUPIED);
    g.fill_rect(0.0, 8.8, 12.0, 9.0, OCCUPIED);
    g.fill_rect(0.0, 0.0, 0.2, 9.0, OCCUPIED);
    g.fill_rect(11.8, 0.0, 12.0, 9.0, OCCUPIED);
    // An inner wall with a doorway.
    g.fill_rect(wall_x, 0.0, wall_x + 0.2, gap_y, OCCUPIED);
    g.fill_rect(wall_x, gap_y + gap_w, wall_x + 0.2, 9.0, OCCUPIED);
    for &(x, y, w, h) in boxes {
        g.fill_rect(x, y, x + w, y + h, OCCUPIED);
    }
    g
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_returned_route_is_collision_free_for_the_footprint(
        boxes in prop::collection::vec((0.5f64..11.0, 0.5f64..8.0, 0.2f64..1.5, 0.2f64..1.5), 0..7),
        wall_x in 4.0f64..8.0,
        gap_y in 1.0f64..6.0,
        gap_w in 0.8f64..2.5,
        sx in 0.8f64..3.5, sy in 0.8f64..8.2,
        gx in 8.5f64..11.2, gy in 0.8f64..8.2,
        heading_deg in -180.0f64..180.0,
        use_heading in any::<bool>(),
    ) {
        let g = random_map(&boxes, wall_x, gap_y, gap_w);
        let mut nav = Navigator::new(Site::bare("random", g), RobotModel::default(), PlannerOptions::default()).unwrap();
        let from = format!("{sx},{sy}");
        let to = format!("{gx},{gy}");
        let start = nav.resolve(&from, "start").unwrap();
        let mut goal = nav.resolve(&to, "goal").unwrap();
        if use_heading {
            goal.heading_rad = Some(heading_deg.to_radians());
        }
        match nav.route_between(&start, &goal, &roboct_core::CancelToken::new()) {
            Ok(route) => {
                let Leg::Drive { points, final_heading_rad, .. } = &route.legs[0] else {
                    panic!("one floor, one drive");
                };
                prop_assert!(points[0].dist(Point::new(sx, sy)) < 1e-9);
                // Exact, or within half a cell diagonal where the last stretch needed the
                // heading-aware lattice (whose points lie on the start's grid).
                prop_assert!(points.last().unwrap().dist(Point::new(gx, gy)) < 0.05 * 0.7072);
                if use_heading {
                    prop_assert!((roboct_nav::geom::wrap_angle(final_heading_rad - heading_deg.to_radians())).abs() < 1e-9);
                }
                let cm = nav.costmap(0).unwrap();
                let bad = common::first_collision(cm, points, None, *final_heading_rad);
                prop_assert!(bad.is_none(), "collision at {:?} on {:?}", bad, points);
            }
            Err(e) => {
                // Refusals are fine (a blocked start or goal, no way through); they must say so.
                let msg = e.to_string();
                prop_assert!(
                    msg.contains("no route") || msg.contains("start") || msg.contains("goal"),
                    "{}", msg
                );
            }
        }
    }

    #[test]
    fn grid_search_cost_equals_pathfinding_dijkstra(
        boxes in prop::collection::vec((0.5f64..11.0, 0.5f64..8.0, 0.2f64..2.5, 0.2f64..2.5), 0..10),
        wall_x in 4.0f64..8.0,
        gap_y in 1.0f64..6.0,
        gap_w in 0.5f64..2.5,
        s in (2usize..60, 4usize..170),
        t in (170usize..236, 4usize..170),
        landmarks in 0usize..3,
    ) {
        let g = random_map(&boxes, wall_x, gap_y, gap_w);
        let nav = Navigator::new(Site::bare("random", g), RobotModel::default(), PlannerOptions {
            landmarks,
            ..Default::default()
        }).unwrap();
        let grid: &SearchGrid = nav.search_grid(0).unwrap();
        let (si, ti) = (grid.index(s.0, s.1), grid.index(t.0, t.1));
        let mut state = SearchState::new(grid.weight.len());
        let ours = state.astar(grid, si, ti, nav.landmarks(0));
        let reference = pathfinding::prelude::dijkstra(&si, |&n| grid.successors(n).collect::<Vec<_>>(), |&n| n == ti);
        match (ours, reference) {
            (Ok(p), Some((cells, cost))) => {
                prop_assert_eq!(p.cost, cost);
                prop_assert_eq!(p.cells.first(), cells.first());
                prop_assert_eq!(p.cells.last(), cells.last());
            }
            (Err(_), None) => {}
            (a, b) => prop_assert!(false, "ours {:?} vs reference {:?}", a.map(|p| p.cost), b.map(|r| r.1)),
        }
    }
}
