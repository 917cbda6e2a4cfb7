//! Development runs of the dose bench on the development seeds: the parameters of the
//! iterative methods are chosen here, never on the held-out seeds.
//!
//! Run with: `cargo run --release -p roboct-bench --example dose_dev -- [FRACTIONS] [METHODS]`
//! e.g. `-- 1,0.25 fdk,fista-tv:2e-5,pwls@20:0.1` (methods as `roboct bench dose --methods`
//! takes them). `SEEDS=11,12` chooses the patients (development seeds only).

use roboct_bench::dose::{
    DEVELOPMENT_SEEDS, DoseBenchConfig, ReconChoice, default_methods, run_dose_bench,
};
use roboct_core::NoProgress;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let fractions: Vec<f64> = match args.get(1) {
        Some(s) => s.split(',').map(str::parse).collect::<Result<_, _>>()?,
        None => vec![1.0, 0.25],
    };
    let methods: Vec<ReconChoice> = match args.get(2) {
        Some(s) => s.split(',').map(str::parse).collect::<Result<_, _>>()?,
        None => default_methods(),
    };
    let seeds: Vec<u64> = match std::env::var("SEEDS") {
        Ok(s) => s.split(',').map(str::parse).collect::<Result<_, _>>()?,
        Err(_) => DEVELOPMENT_SEEDS.to_vec(),
    };
    let config = DoseBenchConfig {
        seeds,
        fractions,
        sparse: vec![],
        methods,
        ..DoseBenchConfig::default()
    };
    let r = run_dose_bench("development", &config, &NoProgress)?;
    print!("{}", r.table());
    Ok(())
}
