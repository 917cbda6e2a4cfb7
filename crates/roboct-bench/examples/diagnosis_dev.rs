//! Development runs of the diagnosis bench on the development cohort only: images patients
//! and writes their reconstructions and truth for inspection.
//!
//! Run with: `cargo run --release -p roboct-bench --example diagnosis_dev -- OUT FIRST COUNT [low]`

use roboct_bench::diagnosis::{DEVELOPMENT_SEED_BASE, Imaging, cohort, image};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(&args[1]);
    let first: usize = args[2].parse().unwrap();
    let count: usize = args[3].parse().unwrap();
    let low = args.get(4).is_some_and(|a| a == "low");
    std::fs::create_dir_all(&out).unwrap();
    let cases = cohort(DEVELOPMENT_SEED_BASE, first + count);
    for (i, case) in cases.iter().enumerate().skip(first) {
        let im = image(case, &Imaging::default(), low).unwrap();
        let dir = out.join(format!("p{i:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        roboct_io::write_volume(&dir.join("std.nii.gz"), &im.standard).unwrap();
        if let Some(l) = &im.low {
            roboct_io::write_volume(&dir.join("low.nii.gz"), l).unwrap();
        }
        std::fs::write(
            dir.join("truth.json"),
            serde_json::to_string_pretty(&im.truth).unwrap(),
        )
        .unwrap();
        let masks: Vec<Vec<u8>> = im
            .truth_masks
            .iter()
            .map(|m| m.iter().map(|&b| b as u8).collect())
            .collect();
        std::fs::write(
            dir.join("masks.json"),
            serde_json::to_string(&masks).unwrap(),
        )
        .unwrap();
        println!(
            "p{i:03} findings {:?} times {:?}",
            im.truth
                .findings
                .iter()
                .map(|f| (
                    f.kind.name(),
                    (f.volume_ml * 10.0).round() / 10.0,
                    f.hu.round()
                ))
                .collect::<Vec<_>>(),
            im.times_s
        );
    }
}
