//! Streams a synthetic reconstruction, slab by slab, to a C-STORE SCP through the durable
//! outbox, and prints when the first slice was stored.
//!
//! Run with a storage SCP listening, e.g. dcmtk's:
//!
//! ```sh
//! mkdir -p /tmp/pacs-in && storescp -aet PACS -od /tmp/pacs-in 11112 &
//! cargo run -p roboct-dicom --example stream_to_pacs -- 127.0.0.1 11112 PACS
//! ```

use std::sync::mpsc::channel;
use std::time::Duration;

use ndarray::Array3;
use roboct_core::units::MU_WATER_70KEV_PER_MM;
use roboct_dicom::ct::{CtSeriesInfo, CtSeriesWriter, VoxelUnits};
use roboct_dicom::dimse::{AssociationOptions, Peer};
use roboct_dicom::outbox::Outbox;
use roboct_dicom::part10::EXPLICIT_VR_LE;
use roboct_dicom::send::DimseSender;
use roboct_dicom::study::StudyContext;
use roboct_dicom::uid::UidGenerator;
use roboct_dicom::upload::{StreamTarget, UploadPolicy, stream_series};
use roboct_geometry::{VolumeGrid, VolumeSlab};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 3 || args[0] == "--help" {
        eprintln!("usage: stream_to_pacs HOST PORT CALLED_AE");
        return Ok(());
    }
    let peer = Peer {
        host: args[0].clone(),
        port: args[1].parse()?,
        ae_title: args[2].clone(),
    };
    let uids = UidGenerator::default();
    let writer = CtSeriesWriter::new(
        StudyContext::unscheduled(&uids),
        CtSeriesInfo::new(&uids),
        uids.clone(),
    );
    let grid = VolumeGrid::centered([128, 128, 32], [1.0, 1.0, 2.0], [0.0; 3])?;
    let (tx, rx) = channel();
    // The "reconstruction": 4 slabs of 8 slices of water (mu in 1/mm), one every 200 ms.
    let g = grid.clone();
    let producer = std::thread::spawn(move || {
        for s in 0..4 {
            std::thread::sleep(Duration::from_millis(200));
            let data = Array3::from_elem((8, 128, 128), MU_WATER_70KEV_PER_MM as f32);
            let _ = tx.send(VolumeSlab {
                z_start: s * 8,
                data,
                volume_grid: g.clone(),
            });
        }
    });
    let outbox_dir = tempfile::tempdir()?;
    let outbox = Outbox::open(outbox_dir.path())?;
    let report = stream_series(
        rx,
        &writer,
        VoxelUnits::MuPerMm {
            mu_water_per_mm: MU_WATER_70KEV_PER_MM,
        },
        StreamTarget {
            outbox,
            destination: "pacs".into(),
            sender: Box::new(DimseSender::new(
                peer,
                AssociationOptions::new("ROBOCT"),
                EXPLICIT_VR_LE,
            )),
            policy: UploadPolicy::default(),
            drain_timeout: Duration::from_secs(30),
        },
    )?;
    producer.join().ok();
    println!(
        "{} slices: {} stored, {} pending; first slice stored {:?} after its slab was ready (last slab arrived at {:?}, first store at {:?})",
        report.instances.len(),
        report.upload.sent,
        report.upload.pending,
        report.first_slice_latency,
        report.last_slab_at,
        report.first_stored_at,
    );
    Ok(())
}
