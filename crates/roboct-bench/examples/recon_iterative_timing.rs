//! Times the Joseph pair and an iterative method on a reference problem.
//!
//! Run with: `cargo run --release -p roboct-bench --example recon_iterative_timing -- 2 os-sart 2`
//! (P3 shrunk by 2, OS-SART, 2 iterations).

use std::time::Instant;

use roboct_bench::recon::{Problem, rmse};
use roboct_core::{CancelToken, NoProgress};
use roboct_recon::{
    IterativeMethod, IterativeOptions, JosephProjector, Projector, ReconPlan, reconstruct_iterative,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scale: usize = args.first().map(|s| s.parse()).transpose()?.unwrap_or(2);
    let method = match args.get(1).map(String::as_str).unwrap_or("os-sart") {
        "sirt" => IterativeMethod::Sirt,
        "cgls" => IterativeMethod::Cgls,
        "fista-tv" => IterativeMethod::FistaTv,
        _ => IterativeMethod::OsSart,
    };
    let iterations: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(2);
    let p = Problem::p3(scale);
    let t = Instant::now();
    let b = p.projections(&NoProgress);
    println!(
        "{}: projections in {:.1} s",
        p.name,
        t.elapsed().as_secs_f64()
    );
    let plan = ReconPlan::new(&p.geometry, &p.grid)?;
    let a = JosephProjector::new(&plan);
    let all: Vec<usize> = (0..plan.n_views()).collect();
    let steps = a.ray_steps(&all) as f64;
    let mut scratch = a.scratch();
    let cancel = CancelToken::new();
    let truth = p.truth();
    let mut y = b.clone();
    let mut x = truth.data().clone();
    for _ in 0..2 {
        let t = Instant::now();
        a.forward_into(
            truth.data().view(),
            &all,
            y.view_mut(),
            &mut scratch,
            &cancel,
        )?;
        let f = t.elapsed().as_secs_f64();
        let t = Instant::now();
        a.adjoint_into(b.view(), &all, x.view_mut(), &mut scratch, &cancel)?;
        let ad = t.elapsed().as_secs_f64();
        println!(
            "path {:?}: forward {f:.3} s ({:.2e} steps/s), adjoint {ad:.3} s ({:.2e} steps/s), {steps:.3e} steps",
            plan.path(),
            steps / f,
            steps / ad
        );
    }
    let t = Instant::now();
    let (v, report) = reconstruct_iterative(
        &plan,
        b.view(),
        None,
        &IterativeOptions::new(method).iterations(iterations),
        &NoProgress,
        &cancel,
    )?;
    println!(
        "{method}: {:.2} s total, setup {:.2} s, per iteration {:?}, rmse {:?}, residuals {:?}",
        t.elapsed().as_secs_f64(),
        report.setup_s,
        report.iteration_s,
        rmse(&v, &truth),
        report.residuals
    );
    Ok(())
}
