//! Development runs of the dose bench on the development seeds: the parameters of the
//! iterative methods are chosen here, never on the held-out seeds.
//!
//! Run with: `cargo run --release -p roboct-bench --example dose_dev -- [FRACTIONS] [METHODS]`
//! e.g. `-- 1,0.25 fdk,fista-tv:4e-5,pwls:0.02`.

use roboct_bench::dose::{DEVELOPMENT_SEEDS, DoseBenchConfig, ReconChoice, run_dose_bench};
use roboct_core::NoProgress;
use roboct_recon::{IterativeMethod, IterativeOptions, Window};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let fractions: Vec<f64> = args.get(1).map_or(vec![1.0, 0.25], |s| {
        s.split(',').map(|v| v.parse().unwrap()).collect()
    });
    let methods: Vec<ReconChoice> =
        args.get(2)
            .map_or_else(roboct_bench::dose::default_methods, |s| {
                s.split(',')
                    .map(|m| {
                        let (name, p) = m
                            .split_once(':')
                            .map_or((m, None), |(a, b)| (a, Some(b.parse::<f64>().unwrap())));
                        let (name, iters) = name.split_once('@').map_or((name, None), |(a, b)| {
                            (a, Some(b.parse::<usize>().unwrap()))
                        });
                        match name {
                            "fdk" => ReconChoice::Fdk(Window::Hann),
                            "fdk-ramlak" => ReconChoice::Fdk(Window::RamLak),
                            "sirt" => ReconChoice::Iterative(
                                IterativeOptions::new(IterativeMethod::Sirt)
                                    .iterations(iters.unwrap_or(20)),
                            ),
                            "os-sart" => ReconChoice::Iterative(
                                IterativeOptions::new(IterativeMethod::OsSart)
                                    .iterations(iters.unwrap_or(4)),
                            ),
                            "cgls" => ReconChoice::Iterative(
                                IterativeOptions::new(IterativeMethod::Cgls)
                                    .iterations(iters.unwrap_or(8)),
                            ),
                            "fista-tv" => ReconChoice::Iterative(
                                IterativeOptions::new(IterativeMethod::FistaTv)
                                    .iterations(iters.unwrap_or(20))
                                    .tv_weight(p.unwrap_or(4e-5) as f32),
                            ),
                            "pwls" => ReconChoice::Iterative(
                                IterativeOptions::new(IterativeMethod::Pwls)
                                    .iterations(iters.unwrap_or(20))
                                    .pwls_beta(p.unwrap_or(0.02) as f32),
                            ),
                            other => panic!("unknown {other}"),
                        }
                    })
                    .collect()
            });
    let seeds = std::env::var("SEEDS").map_or(DEVELOPMENT_SEEDS.to_vec(), |s| {
        s.split(',').map(|v| v.parse().unwrap()).collect()
    });
    let config = DoseBenchConfig {
        seeds,
        fractions,
        sparse: vec![],
        methods,
        ..DoseBenchConfig::default()
    };
    let r = run_dose_bench(&config, &NoProgress).unwrap();
    println!(
        "{:<12} {:>7} {:<10} {:>7} {:>6} {:>8} {:>7} {:>6} {:>7}",
        "protocol", "CTDI", "method", "RMSE", "CNR", "contrast", "noise", "SSIM", "time"
    );
    for row in &r.rows {
        println!(
            "{:<12} {:>7.1} {:<10} {:>7.2} {:>6.2} {:>8.1} {:>7.2} {:>6.3} {:>7.1}",
            row.protocol,
            row.ctdi_vol_mgy,
            row.method,
            row.rmse_hu,
            row.cnr,
            row.contrast_hu,
            row.noise_hu,
            row.ssim,
            row.recon_s
        );
    }
    println!("total {:.0} s", r.total_s);
}
