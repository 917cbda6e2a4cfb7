//! Simulates a standard and a quarter-dose head scan and prints the dose and the times.
//!
//! Run with: `cargo run --release -p roboct-scanner --example head_scan`

use roboct_core::{CancelToken, NoProgress};
use roboct_phantom::head::{FindingKind, FindingSpec, HeadOptions, Side, head};
use roboct_scanner::patient::AnalyticPatient;
use roboct_scanner::{Protocol, ScannerSpec, simulate_scan};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let h = head(&HeadOptions {
        findings: vec![FindingSpec {
            kind: FindingKind::Intraparenchymal,
            volume_ml: 10.0,
            side: Side::Left,
            hu: 60.0,
        }],
        ..HeadOptions::default()
    })?;
    let spec = ScannerSpec::mobile_head();
    for (name, mas, supersample) in [
        ("standard", 300.0, 1),
        ("quarter", 75.0, 1),
        ("standard 2x2", 300.0, 2),
    ] {
        let t = std::time::Instant::now();
        let scan = simulate_scan(
            &spec,
            &Protocol {
                mas,
                ..Protocol::standard_head()
            },
            &AnalyticPatient {
                patient: &h.patient,
                supersample,
            },
            &NoProgress,
            &CancelToken::new(),
        )?;
        println!(
            "{name}: CTDIvol {:.1} DLP {:.0}, projection {:.2} s, detector {:.2} s, total {:.2} s, shape {:?}",
            scan.dose.ctdi_vol,
            scan.dose.dlp,
            scan.times_s.0,
            scan.times_s.1,
            t.elapsed().as_secs_f64(),
            scan.projections.dim()
        );
        println!("  per 100 mAs: {:?}", scan.dose.ctdi_per_100mas);
    }
    Ok(())
}
