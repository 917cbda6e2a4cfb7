//! Times FDK on a reference problem, reusing cached projections between runs.
//!
//! Run with: `cargo run --release -p roboct-bench --example recon_timing -- p3 1 /tmp/roboct-cache`

use std::path::PathBuf;
use std::time::Instant;

use roboct_bench::recon::{Problem, rmse};
use roboct_core::{CancelToken, NoProgress};
use roboct_io::{ProjectionStack, read_projections, write_projections};
use roboct_recon::{AnalyticOptions, fdk_volume};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map(String::as_str).unwrap_or("p3");
    let scale: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let cache = PathBuf::from(
        args.get(2)
            .map(String::as_str)
            .unwrap_or("/tmp/roboct-cache"),
    );
    let slab: usize = std::env::var("SLAB")
        .ok()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(32);
    let p = if name == "p2" {
        Problem::p2(scale)
    } else {
        Problem::p3(scale)
    };
    std::fs::create_dir_all(&cache)?;
    let file = cache.join(format!("{name}_{scale}.npy"));
    let projections = match read_projections(&file) {
        Ok(s) => s.data,
        Err(_) => {
            let data = p.projections(&NoProgress);
            write_projections(
                &file,
                &ProjectionStack {
                    data: data.clone(),
                    detector: None,
                },
            )?;
            data
        }
    };
    let options = AnalyticOptions {
        slab_thickness: slab,
        ..Default::default()
    };
    // Start the pool before measuring, so its threads exist at both readings.
    rayon::broadcast(|_| ());
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let (v, report) = fdk_volume(
        &p.geometry,
        projections,
        &p.grid,
        &options,
        &NoProgress,
        &CancelToken::new(),
    )?;
    let total = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "cpu {cpu:.3} s over wall {total:.3} s: {:.3e} VU per cpu-second",
        report.voxel_updates as f64 / cpu
    );
    println!(
        "{}: total {total:.3} s, filter {:.3} s, bp {:.3} s, {:.3e} VU/s overall, {:.3e} VU/s bp, path {:?}",
        p.name,
        report.filter_s,
        report.backproject_s,
        report.voxel_updates as f64 / total,
        report.voxel_updates as f64 / report.backproject_s,
        report.path
    );
    if std::env::var_os("RMSE").is_some() {
        let (all, central) = rmse(&v, &p.truth());
        println!("rmse {all:.4e} central {central:.4e}");
    }
    Ok(())
}

/// On-CPU time of every thread of this process (schedstat, nanosecond resolution): unlike wall
/// time it does not count time the threads waited for a core another process held.
fn cpu_seconds() -> f64 {
    let mut total = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                total += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    total as f64 * 1e-9
}
