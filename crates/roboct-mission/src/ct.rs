//! The mission's CT chain: plan the scan, expose view by view through the hardware and the
//! interlocks, reconstruct with the slabs streamed to the PACS while the rest is computed, and
//! the reports (dose SR, findings SR, key images).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ndarray::{Array2, Array3, Axis};
use roboct_core::{CancelToken, NoProgress};
use roboct_diagnosis::Diagnosis;
use roboct_dicom::ct::{CtSeriesInfo, CtSeriesWriter, VoxelUnits};
use roboct_dicom::dimse::{AssociationOptions, Peer};
use roboct_dicom::mpps::{
    PerformedSeries, PerformedStep, StepEnd, StepResult, end_step, start_step,
};
use roboct_dicom::outbox::Outbox;
use roboct_dicom::part10::EXPLICIT_VR_LE;
use roboct_dicom::send::{DimseSender, Sender};
use roboct_dicom::sr::{
    Code, CtIrradiationEvent, DoseReport, FindingsReport, ImageRef, ReportWriter,
};
use roboct_dicom::study::{OrderRef, Patient, StudyContext};
use roboct_dicom::uid::UidGenerator;
use roboct_dicom::upload::{StreamTarget, UploadPolicy, stream_series};
use roboct_geometry::{ScanGeometry, Volume, VolumeGrid};
use roboct_positioning::pipeline::Positioned;
use roboct_recon::{AnalyticOptions, Filter, Window, fdk};
use roboct_scanner::acquire::preprocess_view;
use roboct_scanner::physics::Response;
use roboct_scanner::{CtdiPhantom, DoseRecord, Protocol, ScannerSpec, Spectrum};

use crate::hardware::{GantryAxes, GantryLimits};
use crate::mission::{Mission, Observer, Order};
use crate::phase::MissionError;
use crate::technique::{dose_record, planned, technique};

/// Why a sender could not be made (its configuration, a credential that cannot be read).
pub type SenderSetupError = Box<dyn std::error::Error + Send + Sync>;

/// Makes a sender for a destination, or says why it cannot.
pub type SenderFactory = Box<dyn Fn() -> Result<Box<dyn Sender>, SenderSetupError> + Send + Sync>;

/// Where the images and reports go besides the output folder.
pub struct PacsTarget {
    /// The durable outbox.
    pub outbox: Outbox,
    /// The destination's name.
    pub destination: String,
    /// Makes a sender for the destination (one per stream), or says why it cannot.
    pub sender: SenderFactory,
    /// A name for people (`embedded PACS at 127.0.0.1:4242`).
    pub label: String,
    /// Where the procedure step is reported (MPPS), if anywhere.
    pub mpps: Option<(Peer, AssociationOptions)>,
}

impl PacsTarget {
    /// A DICOM peer reached by C-STORE (explicit VR little endian), which is also the MPPS
    /// SCP: the embedded PACS, or a PACS that takes both.
    pub fn dimse(
        outbox: Outbox,
        destination: &str,
        peer: Peer,
        options: AssociationOptions,
        label: String,
    ) -> Self {
        let (p, o) = (peer.clone(), options.clone());
        Self {
            outbox,
            destination: destination.to_string(),
            sender: Box::new(move || -> Result<Box<dyn Sender>, SenderSetupError> {
                Ok(Box::new(DimseSender::new(
                    p.clone(),
                    o.clone(),
                    EXPLICIT_VR_LE,
                )))
            }),
            label,
            mpps: Some((peer, options)),
        }
    }
}

/// A planned scan.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ScanPlan {
    /// The protocol.
    pub protocol: Protocol,
    /// Planned CTDIvol, mGy.
    pub ctdi_vol_mgy: f64,
    /// Planned DLP, mGy cm.
    pub dlp_mgycm: f64,
    /// The reconstruction grid.
    pub grid: VolumeGrid,
    /// Scan range along z, mm.
    pub range_mm: [f64; 2],
    /// How it was planned.
    pub method: String,
}

impl ScanPlan {
    /// One line for people.
    pub fn describe(&self) -> String {
        format!(
            "scan planned ({}): {:.0} kV, {:.0} mAs, {} views, z {:.0} to {:.0} mm; CTDIvol {:.1} mGy, DLP {:.0} mGy.cm",
            self.method,
            self.protocol.kvp,
            self.protocol.mas,
            self.protocol.views,
            self.range_mm[0],
            self.range_mm[1],
            self.ctdi_vol_mgy,
            self.dlp_mgycm
        )
    }
}

/// A finished scan: corrected line integrals, their weights, the dose.
pub struct Acquired {
    /// The geometry.
    pub geometry: ScanGeometry,
    /// Line integrals at the reference energy.
    pub projections: Array3<f32>,
    /// PWLS weights.
    pub weights: Array3<f32>,
    /// The dose actually given.
    pub dose: DoseRecord,
    /// mu of water at the reference energy, 1/mm.
    pub mu_water_per_mm: f64,
}

/// What the imaging produced.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CtOutcome {
    /// The scan's dose record.
    pub dose: Option<DoseRecord>,
    /// The CT series' UID.
    pub series_uid: String,
    /// Images written.
    pub images: usize,
    /// Where they are.
    pub dicom_dir: PathBuf,
    /// The volume (NIfTI, HU).
    pub volume: PathBuf,
    /// PNG previews.
    pub previews: Vec<PathBuf>,
    /// The dose SR and findings SR and key-object files.
    pub reports: Vec<PathBuf>,
    /// Instances the PACS acknowledged.
    pub sent: usize,
    /// Instances still waiting in the outbox.
    pub pending: usize,
    /// Seconds from the first slab to the first slice stored at the PACS.
    pub first_slice_s: Option<f64>,
    /// Seconds from the first slab to the last (the first slice reached the PACS before the
    /// reconstruction finished when `first_slice_s` is the smaller).
    pub last_slab_s: Option<f64>,
    /// Seconds the reconstruction took.
    pub recon_s: f64,
    /// Seconds the automatic reading took.
    pub diagnosis_s: Option<f64>,
    /// Where the PACS is.
    pub pacs: Option<String>,
    /// The findings, one line each.
    pub findings: Vec<String>,
    /// The procedure step's state at the MPPS SCP (`completed`), when there is one.
    pub mpps: Option<String>,
}

impl CtOutcome {
    /// The diagnosis phase's line.
    pub fn diagnosis_line(&self) -> String {
        if self.findings.is_empty() {
            "automatic reading: no findings reported".into()
        } else {
            format!("automatic reading: {}", self.findings.join("; "))
        }
    }

    /// The reporting phase's line.
    pub fn reporting_line(&self) -> String {
        format!(
            "{} images and {} reports; {} sent to {}, {} pending",
            self.images,
            self.reports.len(),
            self.sent,
            self.pacs.as_deref().unwrap_or("no PACS"),
            self.pending
        )
    }
}

/// Estimated scatter air kerma (uGy) at `distance_m` from the isocentre for a scan of
/// `dlp_mgycm`: about 0.1 uGy per mGy.cm at 1 m for a head scan, falling with the inverse
/// square of the distance (the order of magnitude of published head-CT isodose maps; an
/// estimate for staff records, not a measurement).
pub fn scatter_ugy(dlp_mgycm: f64, distance_m: f64) -> f64 {
    0.1 * dlp_mgycm / distance_m.max(0.3).powi(2)
}

/// The CT side of a mission.
pub struct CtChain {
    spec: ScannerSpec,
    out_dir: PathBuf,
    pacs: Option<PacsTarget>,
    uids: UidGenerator,
    /// The reconstruction's voxel size, mm.
    pub voxel_mm: f64,
    /// The seed of the simulated noise (scout and scan).
    pub seed: u64,
    /// Longest wait for the PACS to take the images (after the last slab) and the reports
    /// before the mission goes on; what is left stays in the outbox.
    pub pacs_deadline: Duration,
    /// The study of the current scan (the series and the reports share it).
    study: Option<StudyContext>,
    /// The reconstruction in HU, once made.
    hu: Option<Volume>,
    /// The procedure step announced to the MPPS SCP.
    step: Option<PerformedStep>,
    /// The series' instances as the PACS got them (for the MPPS and the key objects).
    series_refs: Vec<ImageRef>,
    /// Things that went wrong without stopping the mission (MPPS refused...).
    pub warnings: Vec<String>,
    /// The procedure step's last state at the MPPS SCP.
    mpps_state: Option<String>,
}

impl CtChain {
    /// A chain writing into `out_dir` and, if given, to a PACS.
    pub fn new(spec: ScannerSpec, out_dir: &Path, pacs: Option<PacsTarget>) -> Self {
        Self {
            spec,
            out_dir: out_dir.to_path_buf(),
            pacs,
            uids: UidGenerator::default(),
            voxel_mm: 1.0,
            seed: 1,
            pacs_deadline: Duration::from_secs(20),
            study: None,
            hu: None,
            step: None,
            series_refs: Vec::new(),
            warnings: Vec::new(),
            mpps_state: None,
        }
    }

    /// The PACS's name for people, when there is one.
    pub fn pacs_label(&self) -> Option<&str> {
        self.pacs.as_ref().map(|p| p.label.as_str())
    }

    /// Where the gantry goes at the bed: the bore around the head end (nominal docking; the
    /// scout then plans the exact range).
    pub fn docking_target(&self, limits: GantryLimits) -> GantryAxes {
        GantryAxes {
            travel_mm: 0.5 * (limits.travel_mm.0 + limits.travel_mm.1),
            lift_mm: 900.0_f64.clamp(limits.lift_mm.0, limits.lift_mm.1),
            yaw_deg: 0.0,
        }
    }

    /// The seed of the simulated noise of this chain's exposures.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The scan plan for the order: the protocol's technique over the range and about the
    /// isocentre that positioning planned from the scout (without one, a fixed nominal range
    /// about the docked isocentre: the estimate read back before the scout), and the dose it
    /// will give.
    pub fn plan(
        &mut self,
        order: &Order,
        positioned: Option<&Positioned>,
    ) -> Result<ScanPlan, MissionError> {
        if self.study.is_none() {
            self.study = Some(self.study(order));
        }
        let scouted = positioned.and_then(|p| p.outcome.as_ref().ok());
        let t = technique(&order.body_part, &order.protocol)?;
        let range = scouted.map_or(t.nominal_range_mm, |p| p.scan_range_mm);
        let iso_xy = scouted.map_or([0.0, 0.0], |p| [p.isocenter_mm[0], p.isocenter_mm[1]]);
        let max = self.spec.max_collimation_mm();
        if range[1] - range[0] > max + 1.0 {
            self.warnings.push(format!(
                "the planned range of {:.0} mm is longer than one rotation covers ({max:.0} mm): the middle {max:.0} mm are scanned",
                range[1] - range[0]
            ));
        }
        let (protocol, dose) = planned(&self.spec, &t, range, iso_xy, self.seed)?;
        let collimation = protocol.collimation_mm;
        let phantom = t.ctdi_phantom;
        // A head is longer front to back than side to side: 208 x 244 mm in-plane, slices
        // twice the in-plane voxel (the reading grid the diagnosis was evaluated on).
        let v = self.voxel_mm;
        let (fx, fy) = match phantom {
            CtdiPhantom::Head16 => (208.0, 244.0),
            CtdiPhantom::Body32 => (360.0, 300.0),
        };
        let nz = (collimation / (2.0 * v)).floor() as usize;
        let grid = VolumeGrid::centered(
            [
                (fx / v).round() as usize,
                (fy / v).round() as usize,
                nz.max(1),
            ],
            [v, v, 2.0 * v],
            [iso_xy[0], iso_xy[1], protocol.z_center_mm],
        )
        .map_err(|e| MissionError::Imaging(e.to_string()))?;
        Ok(ScanPlan {
            ctdi_vol_mgy: dose.ctdi_vol.0,
            dlp_mgycm: dose.dlp.0,
            protocol,
            grid,
            range_mm: [
                0.5 * (range[0] + range[1]) - 0.5 * collimation,
                0.5 * (range[0] + range[1]) + 0.5 * collimation,
            ],
            method: match (scouted, positioned) {
                (Some(p), Some(pos)) => format!(
                    "from the scout: {} z {:.0} to {:.0} mm, margins {:.0}/{:.0} mm; scout DLP {:.1} mGy.cm",
                    p.target.organ(),
                    p.organ_z_mm[0],
                    p.organ_z_mm[1],
                    p.excess_mm[0],
                    p.excess_mm[1],
                    pos.scout_dlp_mgycm
                ),
                _ => "nominal range".into(),
            },
        })
    }

    /// Exposes the scan view by view: each tick of the rotation asks the interlocks first,
    /// and a beam cut mid-scan ends it as interrupted.
    pub fn scan(
        &mut self,
        mission: &mut Mission<'_>,
        plan: &ScanPlan,
    ) -> Result<Acquired, MissionError> {
        let geometry = plan
            .protocol
            .geometry(&self.spec)
            .map_err(|e| MissionError::Imaging(e.to_string()))?;
        let spectrum = Spectrum::tungsten(plan.protocol.kvp, self.spec.filtration)
            .map_err(|e| MissionError::Imaging(e.to_string()))?;
        let response = Response::new(&spectrum, &self.spec.detector);
        self.start_step();
        let mut detector = mission
            .hardware()
            .detector(&geometry, &response, plan.protocol.seed)?;
        let (nv, rows, cols) = geometry.projection_shape();
        let mut projections = Array3::<f32>::zeros((nv, rows, cols));
        let mut weights = Array3::<f32>::zeros((nv, rows, cols));
        let mut frame = Array2::<f32>::zeros((rows, cols));
        let mut flat = Array2::<f32>::zeros((rows, cols));
        let tick = mission.settings().tick_s;
        let views_per_tick = (nv as f64 * tick / self.spec.rotation_time_s).max(1.0);
        let mas_per_view = plan.protocol.mas / nv as f64;
        let mut done = 0usize;
        let mut budget = 0.0f64;
        let xray_w = plan.protocol.kvp * (plan.protocol.mas / self.spec.rotation_time_s)
            / mission.settings().generator_efficiency;
        while done < nv {
            if !mission.exposure_tick()? {
                return Err(MissionError::ExposureInterrupted(format!(
                    "the beam was cut after {done} of {nv} views (switch released, someone in the room, or motion)"
                )));
            }
            mission.book_xray(xray_w * tick);
            budget += views_per_tick;
            while budget >= 1.0 && done < nv {
                let hw = mission.hardware();
                let mas = hw
                    .tube()
                    .expose(mas_per_view)
                    .map_err(|e| MissionError::Imaging(e.to_string()))?;
                detector
                    .read_frame(done, mas, frame.view_mut())
                    .map_err(|e| MissionError::Imaging(e.to_string()))?;
                detector.flat_field(done, mas, flat.view_mut());
                preprocess_view(
                    frame.view(),
                    flat.view(),
                    &response,
                    projections.index_axis_mut(Axis(0), done),
                    weights.index_axis_mut(Axis(0), done),
                );
                done += 1;
                budget -= 1.0;
            }
        }
        let delivered = mission.hardware().tube().delivered_mas();
        let dose = dose_record(&self.spec, &spectrum, &plan.protocol, delivered)
            .map_err(|e| MissionError::Imaging(e.to_string()))?;
        Ok(Acquired {
            geometry,
            projections,
            weights,
            dose,
            mu_water_per_mm: roboct_phantom::material::mu_water_reference_per_mm(),
        })
    }

    fn study(&self, order: &Order) -> StudyContext {
        let mut study = StudyContext::unscheduled(&self.uids);
        study.patient = Patient {
            name: order.patient_name.clone(),
            id: order.patient_id.clone(),
            birth_date: order.birth_date.clone(),
            sex: order.sex.clone(),
        };
        study.study_description = format!("CT {}", order.body_part);
        study.body_part = order.body_part.clone();
        study.order = Some(OrderRef {
            accession_number: order.accession.clone(),
            ..OrderRef::default()
        });
        match &order.worklist {
            Some(item) => {
                let mut s = item.study_context(study);
                s.body_part = order.body_part.clone();
                s
            }
            None => study,
        }
    }

    /// Reconstructs (FDK, slabs streamed to the PACS as they come), and writes the series,
    /// the volume (NIfTI, HU) and a preview.
    pub fn reconstruct(
        &mut self,
        order: &Order,
        plan: &ScanPlan,
        scan: Acquired,
        observer: &dyn Observer,
    ) -> Result<CtOutcome, MissionError> {
        let dicom_dir = self.out_dir.join("dicom");
        std::fs::create_dir_all(&dicom_dir)
            .map_err(|e| MissionError::Dicom(format!("{}: {e}", dicom_dir.display())))?;
        let study = match &self.study {
            Some(s) => s.clone(),
            None => {
                let s = self.study(order);
                self.study = Some(s.clone());
                s
            }
        };
        let mut info = CtSeriesInfo::new(&self.uids);
        info.description = format!(
            "ROBOCT {} {}",
            order.body_part,
            order.protocol.to_uppercase()
        );
        info.acquisition.kvp = plan.protocol.kvp;
        info.acquisition.tube_current_ma = scan.dose.tube_current_ma;
        info.acquisition.exposure_time_s = scan.dose.exposure_time_s;
        info.acquisition.ctdi_vol = scan.dose.ctdi_vol;
        info.acquisition.source_to_isocenter_mm = self.spec.sid_mm;
        info.acquisition.source_to_detector_mm = self.spec.sdd_mm;
        info.acquisition.kernel = "HANN".into();
        info.acquisition.ctdi_phantom = match scan.dose.ctdi_phantom {
            CtdiPhantom::Head16 => roboct_dicom::sr::CtdiPhantom::Head16,
            CtdiPhantom::Body32 => roboct_dicom::sr::CtdiPhantom::Body32,
        };
        let writer = CtSeriesWriter::new(study.clone(), info, self.uids.clone());
        let units = VoxelUnits::MuPerMm {
            mu_water_per_mm: scan.mu_water_per_mm,
        };
        let mut volume = Volume::zeros(plan.grid.clone());
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        let options = AnalyticOptions {
            filter: Filter {
                window: Window::Hann,
                cutoff: 1.0,
            },
            slab_thickness: 16,
            force_generic: false,
        };
        let mut outcome = CtOutcome {
            series_uid: writer.series().series_instance_uid.clone(),
            dicom_dir: dicom_dir.clone(),
            pacs: self.pacs.as_ref().map(|p| p.label.clone()),
            dose: Some(scan.dose.clone()),
            ..CtOutcome::default()
        };
        let recon = std::thread::scope(|s| -> Result<(), MissionError> {
            type Streamed = (usize, usize, Option<f64>, Option<f64>, Vec<ImageRef>);
            let streamer = s.spawn(|| -> Result<Streamed, MissionError> {
                match &self.pacs {
                    Some(p) => {
                        let report = stream_series(
                            rx,
                            &writer,
                            units,
                            StreamTarget {
                                outbox: p.outbox.clone(),
                                destination: p.destination.clone(),
                                sender: (p.sender)()
                                    .map_err(|e| MissionError::Dicom(e.to_string()))?,
                                policy: UploadPolicy::default(),
                                drain_timeout: self.pacs_deadline,
                            },
                        )
                        .map_err(|e| MissionError::Dicom(e.to_string()))?;
                        Ok((
                            report.upload.sent,
                            report.upload.pending,
                            report.first_stored_at.map(|d| d.as_secs_f64()),
                            report.last_slab_at.map(|d| d.as_secs_f64()),
                            report.instances,
                        ))
                    }
                    None => {
                        for _slab in rx {}
                        Ok((0, 0, None, None, Vec::new()))
                    }
                }
            });
            let report = fdk(
                &scan.geometry,
                scan.projections,
                &plan.grid,
                &options,
                &NoProgress,
                &CancelToken::new(),
                |slab| -> Result<(), std::io::Error> {
                    let _ = tx.send(slab.clone());
                    volume
                        .insert_slab(&slab)
                        .map_err(|e| std::io::Error::other(e.to_string()))
                },
            )
            .map_err(|e| MissionError::Imaging(e.to_string()));
            drop(tx);
            let streamed = streamer
                .join()
                .map_err(|_| MissionError::Dicom("the upload thread panicked".into()))?;
            report?;
            let (sent, pending, first, last_slab, refs) = streamed?;
            self.series_refs = refs;
            outcome.sent = sent;
            outcome.pending = pending;
            outcome.first_slice_s = first;
            outcome.last_slab_s = last_slab;
            Ok(())
        });
        recon?;
        outcome.recon_s = start.elapsed().as_secs_f64();
        // The series on disk (the same objects the PACS got), the volume in HU, previews.
        let nz = volume.grid().size()[2];
        for k in 0..nz {
            let inst = writer
                .slice(
                    volume.grid(),
                    k,
                    volume.data().index_axis(Axis(0), k),
                    units,
                )
                .map_err(|e| MissionError::Dicom(e.to_string()))?;
            let path = dicom_dir.join(format!("CT{:04}.dcm", k + 1));
            std::fs::write(&path, &inst.bytes)
                .map_err(|e| MissionError::Dicom(format!("{}: {e}", path.display())))?;
        }
        outcome.images = nz;
        let mu_w = scan.mu_water_per_mm as f32;
        let hu = Volume::from_array(
            volume.grid().clone(),
            volume.data().mapv(|v| 1000.0 * (v - mu_w) / mu_w),
        )
        .expect("same grid");
        let vol_path = self.out_dir.join("volume.nii.gz");
        roboct_io::write_volume(&vol_path, &hu)
            .map_err(|e| MissionError::Imaging(e.to_string()))?;
        outcome.volume = vol_path;
        let previews = self.out_dir.join("previews");
        std::fs::create_dir_all(&previews).map_err(|e| MissionError::Imaging(e.to_string()))?;
        let brain = roboct_io::Window {
            center: 40.0,
            width: 80.0,
        };
        let mid = hu.data().index_axis(Axis(0), nz / 2).to_owned();
        let p = previews.join("axial_brain_window.png");
        roboct_io::write_png_slice(&p, mid.view(), brain)
            .map_err(|e| MissionError::Imaging(e.to_string()))?;
        outcome.previews.push(p);
        observer.note(&format!(
            "reconstructed {} slices in {:.1} s{}",
            nz,
            outcome.recon_s,
            outcome.first_slice_s.map_or(String::new(), |t| format!(
                "; first slice in the PACS after {t:.2} s"
            ))
        ));
        self.hu = Some(hu);
        Ok(outcome)
    }

    /// Reads the reconstruction (a head: haemorrhage, midline shift), writes the reading as
    /// JSON and text and the key images, and puts the findings in `outcome`.
    pub fn diagnose(
        &mut self,
        order: &Order,
        outcome: &mut CtOutcome,
    ) -> Result<Option<Diagnosis>, MissionError> {
        let Some(hu) = &self.hu else {
            return Err(MissionError::Imaging(
                "nothing was reconstructed to read".into(),
            ));
        };
        if order.body_part != "HEAD" {
            outcome.findings = vec![format!(
                "no automatic reading for {} scans",
                order.body_part.to_lowercase()
            )];
            return Ok(None);
        }
        let dx = roboct_diagnosis::diagnose(hu);
        let json_path = self.out_dir.join("diagnosis.json");
        std::fs::write(&json_path, dx.to_json())
            .map_err(|e| MissionError::Imaging(format!("{}: {e}", json_path.display())))?;
        let text_path = self.out_dir.join("diagnosis.txt");
        std::fs::write(&text_path, dx.text())
            .map_err(|e| MissionError::Imaging(format!("{}: {e}", text_path.display())))?;
        outcome.reports.push(json_path);
        outcome.reports.push(text_path);
        if dx.assessable {
            let dir = self.out_dir.join("key-images");
            let pngs = roboct_diagnosis::keyimage::write_key_images(&dx, &dir)
                .map_err(|e| MissionError::Imaging(e.to_string()))?;
            outcome.previews.extend(pngs);
        }
        outcome.findings = finding_lines(&dx);
        outcome.diagnosis_s = Some(dx.time_s);
        Ok(Some(dx))
    }

    /// Writes the dose SR and the findings SR, and delivers them (with anything else
    /// waiting) to the PACS, waiting at most `deadline`.
    pub fn report(
        &mut self,
        order: &Order,
        dose: &DoseRecord,
        dx: Option<&Diagnosis>,
        outcome: &mut CtOutcome,
    ) -> Result<(), MissionError> {
        let deadline = self.pacs_deadline;
        let Some(study) = self.study.clone() else {
            return Err(MissionError::Dicom("no study to report on".into()));
        };
        let scan_dose = dose;
        // Reports: the dose SR from the dose record, the findings SR and key images.
        let reports = ReportWriter::new(study, self.uids.clone());
        let event = CtIrradiationEvent {
            protocol: format!("ROBOCT {} {}", order.body_part, order.protocol),
            target_region: if order.body_part == "HEAD" {
                Code::new("69536005", "SCT", "Head")
            } else {
                Code::new("51185008", "SCT", "Chest")
            },
            event_uid: self.uids.generate(),
            is_scout: false,
            exposure_time_s: scan_dose.exposure_time_s,
            scanning_length_mm: scan_dose.scan_length_mm,
            single_collimation_mm: self.spec.pixel_mm[1] / self.spec.magnification(),
            total_collimation_mm: scan_dose.collimation_mm,
            kvp: scan_dose.kvp,
            max_tube_current_ma: scan_dose.tube_current_ma,
            tube_current_ma: scan_dose.tube_current_ma,
            rotation_time_s: self.spec.rotation_time_s,
            ctdi_vol: scan_dose.ctdi_vol,
            dlp: scan_dose.dlp,
            phantom: match scan_dose.ctdi_phantom {
                CtdiPhantom::Head16 => roboct_dicom::sr::CtdiPhantom::Head16,
                CtdiPhantom::Body32 => roboct_dicom::sr::CtdiPhantom::Body32,
            },
        };
        let dose_sr = reports
            .dose_report(&DoseReport {
                events: vec![event],
            })
            .map_err(|e| MissionError::Dicom(e.to_string()))?;
        let findings_sr = reports
            .findings_report(&{
                let procedure = format!(
                    "CT {} ({}), CTDIvol {:.1} mGy, DLP {:.0} mGy.cm",
                    order.body_part, order.protocol, scan_dose.ctdi_vol.0, scan_dose.dlp.0
                );
                match (dx, &self.hu) {
                    (Some(dx), Some(hu)) => {
                        let keys =
                            roboct_diagnosis::report::key_images(dx, hu.grid(), &self.series_refs);
                        roboct_diagnosis::report::findings_report_with_key_images(
                            dx, &procedure, &keys,
                        )
                    }
                    _ => FindingsReport {
                        procedure,
                        ..FindingsReport::default()
                    },
                }
            })
            .map_err(|e| MissionError::Dicom(e.to_string()))?;
        let mut refs = self.series_refs.clone();
        for (name, inst) in [("dose_sr.dcm", &dose_sr), ("findings_sr.dcm", &findings_sr)] {
            refs.push(ImageRef::from(inst));
            let path = self.out_dir.join(name);
            std::fs::write(&path, &inst.bytes)
                .map_err(|e| MissionError::Dicom(format!("{}: {e}", path.display())))?;
            outcome.reports.push(path);
            if let Some(p) = &self.pacs {
                p.outbox
                    .enqueue(&p.destination, &inst.bytes)
                    .map_err(|e| MissionError::Dicom(e.to_string()))?;
            }
        }
        if let Some(p) = &self.pacs {
            let uids: Vec<String> = p
                .outbox
                .records(&p.destination)
                .map_err(|e| MissionError::Dicom(e.to_string()))?
                .into_iter()
                .filter(|r| !matches!(r.state, roboct_dicom::outbox::ItemState::Sent))
                .map(|r| r.sop_instance_uid)
                .collect();
            let delivery = roboct_dicom::upload::deliver(
                &p.outbox,
                &p.destination,
                &uids,
                (p.sender)().map_err(|e| MissionError::Dicom(e.to_string()))?,
                UploadPolicy::default(),
                Some(Instant::now() + deadline),
                &NoProgress,
            )
            .map_err(|e| MissionError::Dicom(e.to_string()))?;
            outcome.sent += delivery.upload.sent;
            outcome.pending = delivery.upload.pending;
        }
        self.end_step(
            order,
            StepResult {
                end: StepEnd::Completed,
                series: Vec::new(),
                dose: None,
            },
            refs,
        );
        outcome.mpps = self.mpps_state.clone();
        Ok(())
    }

    /// Announces the procedure step (MPPS N-CREATE, IN PROGRESS) when there is an MPPS SCP.
    /// A refusal is a warning: the scan goes on and the images still reach the PACS.
    fn start_step(&mut self) {
        let (Some(p), Some(study)) = (&self.pacs, &self.study) else {
            return;
        };
        let Some((peer, options)) = &p.mpps else {
            return;
        };
        match start_step(peer, options, study, &self.uids) {
            Ok(step) => {
                self.step = Some(step);
                self.mpps_state = Some("in progress".into());
            }
            Err(e) => self.warnings.push(format!("MPPS N-CREATE: {e}")),
        }
    }

    /// Ends the procedure step (N-SET COMPLETED or DISCONTINUED) with the series made.
    fn end_step(&mut self, order: &Order, mut result: StepResult, refs: Vec<ImageRef>) {
        let (Some(p), Some(step)) = (&self.pacs, self.step.take()) else {
            return;
        };
        let Some((peer, options)) = &p.mpps else {
            return;
        };
        if !refs.is_empty() {
            result.series.push(PerformedSeries {
                series_instance_uid: refs[0].series_instance_uid.clone(),
                description: format!("ROBOCT {} {}", order.body_part, order.protocol),
                protocol_name: format!("ROBOCT {} {}", order.body_part, order.protocol),
                retrieve_ae_title: peer.ae_title.clone(),
                instances: refs,
            });
        }
        let state = match result.end {
            StepEnd::Completed => "completed",
            _ => "discontinued",
        };
        match end_step(peer, options, &step, &result) {
            Ok(()) => self.mpps_state = Some(state.into()),
            Err(e) => self.warnings.push(format!("MPPS N-SET: {e}")),
        }
    }

    /// Ends an announced procedure step as discontinued (the mission failed after the scan
    /// began).
    pub fn discontinue(&mut self, order: &Order) {
        let refs = self.series_refs.clone();
        self.end_step(
            order,
            StepResult {
                end: StepEnd::Discontinued(Code::new(
                    "110513",
                    "DCM",
                    "Discontinued for unspecified reason",
                )),
                series: Vec::new(),
                dose: None,
            },
            refs,
        );
    }
}

/// The findings of a reading, one line each, for people.
pub fn finding_lines(dx: &Diagnosis) -> Vec<String> {
    if !dx.assessable {
        return vec![format!(
            "not assessable: {}",
            dx.reason.as_deref().unwrap_or("no reason given")
        )];
    }
    let mut lines: Vec<String> = dx
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}, {:.1} mL, {} ({}), {:.0} mm thick, confidence {:.2}",
                f.kind.words(),
                f.volume_ml,
                f.side.name(),
                f.region,
                f.max_thickness_mm,
                f.confidence
            )
        })
        .collect();
    if lines.is_empty() {
        lines.push("no haemorrhage found".into());
    }
    if let Some(m) = dx.midline_shift_mm {
        lines.push(format!("midline shift {m:.1} mm"));
    }
    lines
}
