//! The embedded PACS end to end, with nothing installed: starts the SCP on a free loopback
//! port, announces a procedure step (MPPS N-CREATE), uploads a small CT series and a key
//! object through the durable outbox (C-STORE), ends the step (N-SET), stops the SCP and
//! prints what reached it and where.
//!
//! Run with:
//!
//! ```sh
//! cargo run -p roboct-dicom --example embedded_pacs -- [OUT_DIR]
//! ```
//!
//! The files stay in `OUT_DIR` (default: a temporary folder, removed at the end).

use std::time::Duration;

use ndarray::Array3;
use roboct_dicom::ct::{CtSeriesInfo, CtSeriesWriter, VoxelUnits};
use roboct_dicom::dimse::AssociationOptions;
use roboct_dicom::mpps::{PerformedSeries, StepEnd, StepResult, end_step, start_step};
use roboct_dicom::outbox::Outbox;
use roboct_dicom::part10::EXPLICIT_VR_LE;
use roboct_dicom::scp::{Scp, ScpEvent, ScpOptions};
use roboct_dicom::send::DimseSender;
use roboct_dicom::sr::{ImageRef, ReportWriter};
use roboct_dicom::study::StudyContext;
use roboct_dicom::uid::UidGenerator;
use roboct_dicom::upload::{UploadPolicy, Uploader};
use roboct_geometry::{Volume, VolumeGrid};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--help") {
        eprintln!("usage: embedded_pacs [OUT_DIR]");
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let out = arg.map_or_else(|| tmp.path().to_path_buf(), Into::into);

    let mut pacs = Scp::bind(
        "127.0.0.1:0",
        ScpOptions::new("DEMO-PACS", out.join("pacs")),
    )?;
    let peer = pacs.peer();
    println!("PACS {peer} storing into {}", pacs.storage_dir().display());

    let options = AssociationOptions::new("ROBOCT").dimse_timeout(Duration::from_secs(10));
    let uids = UidGenerator::default();
    let study = StudyContext::unscheduled(&uids);
    let step = start_step(&peer, &options, &study, &uids)?;

    let grid = VolumeGrid::centered([64, 64, 8], [1.0, 1.0, 2.0], [0.0; 3])?;
    let hu = Array3::from_shape_fn((8, 64, 64), |(_, y, x)| {
        if (x as f32 - 32.0).hypot(y as f32 - 32.0) < 24.0 {
            40.0
        } else {
            -1000.0
        }
    });
    let slices = CtSeriesWriter::new(study.clone(), CtSeriesInfo::new(&uids), uids.clone())
        .volume(&Volume::from_array(grid, hu)?, VoxelUnits::Hu)?;
    let key = ReportWriter::new(study, uids.clone())
        .key_images(&[ImageRef::from(&slices[4])], "Middle slice")?;

    let outbox = Outbox::open(out.join("outbox"))?;
    for i in slices.iter().chain([&key]) {
        outbox.enqueue("pacs", &i.bytes)?;
    }
    let sender = DimseSender::new(peer.clone(), options.clone(), EXPLICIT_VR_LE);
    let mut uploader = Uploader::new(outbox, "pacs", Box::new(sender), UploadPolicy::default())?;
    let report = uploader.run(None, &roboct_core::NoProgress)?;
    println!(
        "uploaded {} instances, {} pending",
        report.sent, report.pending
    );
    drop(uploader);

    let series = PerformedSeries {
        series_instance_uid: slices[0].series_instance_uid.clone(),
        description: "Demo".into(),
        protocol_name: "Demo".into(),
        retrieve_ae_title: peer.ae_title.clone(),
        instances: slices.iter().map(ImageRef::from).collect(),
    };
    let result = StepResult {
        end: StepEnd::Completed,
        series: vec![series],
        dose: None,
    };
    end_step(&peer, &options, &step, &result)?;

    pacs.shutdown();
    println!("what reached the PACS:");
    for event in pacs.events() {
        match event {
            ScpEvent::Stored(s) => println!("  stored {} -> {}", s.sop_class_uid, s.path.display()),
            ScpEvent::Mpps(m) => println!(
                "  MPPS {:?} {} -> {}",
                m.operation,
                m.status,
                m.path.display()
            ),
            other => println!("  {other:?}"),
        }
    }
    Ok(())
}
