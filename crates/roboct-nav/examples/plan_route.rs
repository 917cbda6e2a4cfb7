//! Plans a route in the embedded hospital from the dock to a bed on the second floor and prints
//! its legs, length, expected time and energy.
//!
//! Run with: `cargo run --release -p roboct-nav --example plan_route [FROM] [TO]`

use roboct_nav::hospital;
use roboct_nav::plan::{Leg, Navigator, PlannerOptions};
use roboct_nav::robot::RobotModel;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let from = args.next().unwrap_or_else(|| "dock".into());
    let to = args.next().unwrap_or_else(|| "ward-3/bed-12".into());
    let mut nav = Navigator::new(
        hospital::default_hospital(),
        RobotModel::default(),
        PlannerOptions::default(),
    )?;
    let t0 = std::time::Instant::now();
    let route = nav.route(&from, &to)?;
    println!("planned in {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
    for leg in &route.legs {
        match leg {
            Leg::Drive {
                floor,
                points,
                doors,
                length_m,
                time_s,
                ..
            } => println!(
                "floor {floor}: drive {length_m:.1} m in {time_s:.0} s, {} corners, doors {doors:?}",
                points.len()
            ),
            Leg::Elevator {
                name,
                from_floor,
                to_floor,
                time_s,
                ..
            } => {
                println!("{name}: floor {from_floor} -> {to_floor} in {time_s:.0} s")
            }
        }
    }
    println!(
        "{from} -> {to}: {:.1} m, {:.0} s, {:.0} J ({:.2}% of the battery)",
        route.length_m,
        route.time_s,
        route.energy_j,
        100.0 * (route.battery_soc[0] - route.battery_soc[1])
    );
    Ok(())
}
