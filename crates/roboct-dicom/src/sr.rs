//! Structured reports: the CT radiation dose report (TID 10011), the findings report
//! (Comprehensive SR, TID 2000 layout) and the key-object selection (TID 2010).

use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use roboct_core::units::{Mgy, MgyCm};

use crate::ct::Instance;
use crate::part10::{EXPLICIT_VR_LE, EncodeError, encode_part10, put_str};
use crate::study::{StudyContext, format_ds, put_is, put_seq, sop_reference};
use crate::uid::UidGenerator;

/// X-Ray Radiation Dose SR Storage.
pub const XRAY_RADIATION_DOSE_SR: &str = "1.2.840.10008.5.1.4.1.1.88.67";
/// Comprehensive SR Storage.
pub const COMPREHENSIVE_SR: &str = "1.2.840.10008.5.1.4.1.1.88.33";
/// Key Object Selection Document Storage.
pub const KEY_OBJECT_SELECTION: &str = "1.2.840.10008.5.1.4.1.1.88.59";

/// A coded concept (code value, coding scheme, meaning).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Code {
    /// Code Value.
    pub value: String,
    /// Coding Scheme Designator (`DCM`, `SCT`, `LN`, `UCUM`).
    pub scheme: String,
    /// Code Meaning.
    pub meaning: String,
}

impl Code {
    /// A code.
    pub fn new(value: &str, scheme: &str, meaning: &str) -> Self {
        Self {
            value: value.into(),
            scheme: scheme.into(),
            meaning: meaning.into(),
        }
    }

    pub(crate) fn item(&self) -> InMemDicomObject {
        let mut o = InMemDicomObject::new_empty();
        put_str(&mut o, tags::CODE_VALUE, VR::SH, &self.value);
        put_str(&mut o, tags::CODING_SCHEME_DESIGNATOR, VR::SH, &self.scheme);
        put_str(&mut o, tags::CODE_MEANING, VR::LO, &self.meaning);
        o
    }
}

fn dcm(value: &str, meaning: &str) -> Code {
    Code::new(value, "DCM", meaning)
}

fn ucum(unit: &str, meaning: &str) -> Code {
    Code::new(unit, "UCUM", meaning)
}

/// A reference to a stored image (class, instance, series).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageRef {
    /// SOP Class UID.
    pub sop_class_uid: String,
    /// SOP Instance UID.
    pub sop_instance_uid: String,
    /// Series Instance UID.
    pub series_instance_uid: String,
}

impl From<&Instance> for ImageRef {
    fn from(i: &Instance) -> Self {
        Self {
            sop_class_uid: i.sop_class_uid.clone(),
            sop_instance_uid: i.sop_instance_uid.clone(),
            series_instance_uid: i.series_instance_uid.clone(),
        }
    }
}

enum Value {
    Container,
    Text(String),
    Code(Code),
    Num(f64, Code),
    UidRef(String),
    Image(ImageRef),
}

/// One node of an SR content tree.
struct Item {
    relationship: Option<&'static str>,
    concept: Option<Code>,
    value: Value,
    template: Option<&'static str>,
    children: Vec<Item>,
}

impl Item {
    fn new(rel: &'static str, concept: Code, value: Value) -> Self {
        Self {
            relationship: Some(rel),
            concept: Some(concept),
            value,
            template: None,
            children: vec![],
        }
    }
    fn container(rel: &'static str, concept: Code, children: Vec<Item>) -> Self {
        Self {
            children,
            ..Self::new(rel, concept, Value::Container)
        }
    }
    fn with(mut self, children: Vec<Item>) -> Self {
        self.children = children;
        self
    }

    /// Writes this item's attributes into `o` (the root uses the document itself).
    fn write(&self, o: &mut InMemDicomObject) {
        if let Some(rel) = self.relationship {
            put_str(o, tags::RELATIONSHIP_TYPE, VR::CS, rel);
        }
        let value_type = match &self.value {
            Value::Container => "CONTAINER",
            Value::Text(_) => "TEXT",
            Value::Code(_) => "CODE",
            Value::Num(..) => "NUM",
            Value::UidRef(_) => "UIDREF",
            Value::Image(_) => "IMAGE",
        };
        put_str(o, tags::VALUE_TYPE, VR::CS, value_type);
        if let Some(c) = &self.concept {
            put_seq(o, tags::CONCEPT_NAME_CODE_SEQUENCE, vec![c.item()]);
        }
        match &self.value {
            Value::Container => {
                put_str(o, tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE");
                if let Some(t) = self.template {
                    let mut tpl = InMemDicomObject::new_empty();
                    put_str(&mut tpl, tags::MAPPING_RESOURCE, VR::CS, "DCMR");
                    put_str(&mut tpl, tags::TEMPLATE_IDENTIFIER, VR::CS, t);
                    put_seq(o, tags::CONTENT_TEMPLATE_SEQUENCE, vec![tpl]);
                }
            }
            Value::Text(t) => put_str(o, tags::TEXT_VALUE, VR::UT, t),
            Value::Code(c) => put_seq(o, tags::CONCEPT_CODE_SEQUENCE, vec![c.item()]),
            Value::Num(v, unit) => {
                let mut mv = InMemDicomObject::new_empty();
                put_seq(
                    &mut mv,
                    tags::MEASUREMENT_UNITS_CODE_SEQUENCE,
                    vec![unit.item()],
                );
                put_str(&mut mv, tags::NUMERIC_VALUE, VR::DS, &format_ds(*v));
                put_seq(o, tags::MEASURED_VALUE_SEQUENCE, vec![mv]);
            }
            Value::UidRef(u) => put_str(o, tags::UID, VR::UI, u),
            Value::Image(r) => {
                let s = sop_reference(&r.sop_class_uid, &r.sop_instance_uid);
                put_seq(o, tags::REFERENCED_SOP_SEQUENCE, vec![s]);
            }
        }
        if !self.children.is_empty() {
            let items = self
                .children
                .iter()
                .map(|c| {
                    let mut child = InMemDicomObject::new_empty();
                    c.write(&mut child);
                    child
                })
                .collect();
            put_seq(o, tags::CONTENT_SEQUENCE, items);
        }
    }
}

/// CTDI phantom used for an acquisition's CTDIvol (CID 4052).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CtdiPhantom {
    /// 16 cm head phantom.
    Head16,
    /// 32 cm body phantom.
    Body32,
}

impl CtdiPhantom {
    /// The code (CID 4052).
    pub fn code(self) -> Code {
        match self {
            CtdiPhantom::Head16 => dcm("113690", "IEC Head Dosimetry Phantom"),
            CtdiPhantom::Body32 => dcm("113691", "IEC Body Dosimetry Phantom"),
        }
    }
}

/// One CT irradiation event (TID 10013): one acquisition of the scan.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CtIrradiationEvent {
    /// Protocol name as shown to the operator.
    pub protocol: String,
    /// Target region (CID 4030), e.g. `Code::new("69536005", "SCT", "Head")`.
    pub target_region: Code,
    /// Irradiation Event UID.
    pub event_uid: String,
    /// Whether this was the scout (localizer) rather than the diagnostic acquisition.
    pub is_scout: bool,
    /// Total exposure time in s.
    pub exposure_time_s: f64,
    /// Scanning length in mm.
    pub scanning_length_mm: f64,
    /// Nominal single collimation width in mm.
    pub single_collimation_mm: f64,
    /// Nominal total collimation width in mm.
    pub total_collimation_mm: f64,
    /// Tube voltage in kV.
    pub kvp: f64,
    /// Maximum tube current in mA.
    pub max_tube_current_ma: f64,
    /// Mean tube current in mA.
    pub tube_current_ma: f64,
    /// Exposure time per rotation in s.
    pub rotation_time_s: f64,
    /// Mean CTDIvol.
    pub ctdi_vol: Mgy,
    /// Dose-length product.
    pub dlp: MgyCm,
    /// The phantom CTDIvol refers to.
    pub phantom: CtdiPhantom,
}

/// The whole dose record of a study.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DoseReport {
    /// The acquisitions, scout first.
    pub events: Vec<CtIrradiationEvent>,
}

impl DoseReport {
    /// Total DLP.
    pub fn total_dlp(&self) -> MgyCm {
        self.events.iter().map(|e| e.dlp).sum()
    }
}

/// Why an SR could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SrError {
    /// The report is empty where content is required.
    #[error("{0}")]
    Empty(&'static str),
    /// A numeric value is not finite or negative.
    #[error("{field} is {value}: expected a finite value >= 0")]
    BadValue {
        /// Which field.
        field: &'static str,
        /// The value.
        value: f64,
    },
    /// Encoding failed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Makes the SR and KO documents of one study.
#[derive(Clone, Debug)]
pub struct ReportWriter {
    study: StudyContext,
    uids: UidGenerator,
    transfer_syntax: String,
}

impl ReportWriter {
    /// A writer for `study`.
    pub fn new(study: StudyContext, uids: UidGenerator) -> Self {
        Self {
            study,
            uids,
            transfer_syntax: EXPLICIT_VR_LE.into(),
        }
    }

    fn document(
        &self,
        sop_class: &str,
        modality: &str,
        series_number: i64,
        series_description: &str,
    ) -> (InMemDicomObject, String, String) {
        let sop_instance_uid = self.uids.generate();
        let series_uid = self.uids.generate();
        let (date, time) = self.study.now();
        let mut o = InMemDicomObject::new_empty();
        put_str(&mut o, tags::SOP_CLASS_UID, VR::UI, sop_class);
        put_str(&mut o, tags::SOP_INSTANCE_UID, VR::UI, &sop_instance_uid);
        put_str(&mut o, tags::INSTANCE_CREATION_DATE, VR::DA, &date);
        put_str(&mut o, tags::INSTANCE_CREATION_TIME, VR::TM, &time);
        self.study.write_common(&mut o);
        put_str(&mut o, tags::MODALITY, VR::CS, modality);
        put_str(&mut o, tags::SERIES_INSTANCE_UID, VR::UI, &series_uid);
        put_is(&mut o, tags::SERIES_NUMBER, series_number);
        put_str(&mut o, tags::SERIES_DESCRIPTION, VR::LO, series_description);
        put_str(&mut o, tags::SERIES_DATE, VR::DA, &date);
        put_str(&mut o, tags::SERIES_TIME, VR::TM, &time);
        self.study.write_mpps_reference(&mut o, true);
        put_is(&mut o, tags::INSTANCE_NUMBER, 1);
        put_str(&mut o, tags::CONTENT_DATE, VR::DA, &date);
        put_str(&mut o, tags::CONTENT_TIME, VR::TM, &time);
        (o, sop_instance_uid, series_uid)
    }

    fn sr_general(&self, o: &mut InMemDicomObject, evidence: &[ImageRef]) {
        put_str(o, tags::COMPLETION_FLAG, VR::CS, "COMPLETE");
        put_str(o, tags::VERIFICATION_FLAG, VR::CS, "UNVERIFIED");
        put_seq(o, tags::PERFORMED_PROCEDURE_CODE_SEQUENCE, vec![]);
        self.referenced_request(o);
        if !evidence.is_empty() {
            put_seq(
                o,
                tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
                self.evidence(evidence),
            );
        }
    }

    fn referenced_request(&self, o: &mut InMemDicomObject) {
        if let Some(r) = &self.study.order {
            let mut item = InMemDicomObject::new_empty();
            put_str(
                &mut item,
                tags::STUDY_INSTANCE_UID,
                VR::UI,
                &self.study.study_instance_uid,
            );
            put_seq(&mut item, tags::REFERENCED_STUDY_SEQUENCE, vec![]);
            put_str(
                &mut item,
                tags::ACCESSION_NUMBER,
                VR::SH,
                r.accession_number.expose(),
            );
            put_str(
                &mut item,
                tags::PLACER_ORDER_NUMBER_IMAGING_SERVICE_REQUEST,
                VR::LO,
                "",
            );
            put_str(
                &mut item,
                tags::FILLER_ORDER_NUMBER_IMAGING_SERVICE_REQUEST,
                VR::LO,
                "",
            );
            put_str(
                &mut item,
                tags::REQUESTED_PROCEDURE_ID,
                VR::SH,
                &r.requested_procedure_id,
            );
            put_str(
                &mut item,
                tags::REQUESTED_PROCEDURE_DESCRIPTION,
                VR::LO,
                &r.requested_procedure_description,
            );
            put_seq(&mut item, tags::REQUESTED_PROCEDURE_CODE_SEQUENCE, vec![]);
            put_seq(o, tags::REFERENCED_REQUEST_SEQUENCE, vec![item]);
        }
    }

    /// Hierarchical SOP Instance Reference Macro: study > series > instances.
    fn evidence(&self, refs: &[ImageRef]) -> Vec<InMemDicomObject> {
        let mut series: Vec<(String, Vec<&ImageRef>)> = Vec::new();
        for r in refs {
            match series
                .iter_mut()
                .find(|(uid, _)| *uid == r.series_instance_uid)
            {
                Some((_, v)) => v.push(r),
                None => series.push((r.series_instance_uid.clone(), vec![r])),
            }
        }
        let series_items = series
            .into_iter()
            .map(|(uid, instances)| {
                let mut s = InMemDicomObject::new_empty();
                put_str(&mut s, tags::SERIES_INSTANCE_UID, VR::UI, &uid);
                let sops = instances
                    .iter()
                    .map(|r| sop_reference(&r.sop_class_uid, &r.sop_instance_uid))
                    .collect();
                put_seq(&mut s, tags::REFERENCED_SOP_SEQUENCE, sops);
                s
            })
            .collect();
        let mut study = InMemDicomObject::new_empty();
        put_str(
            &mut study,
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            &self.study.study_instance_uid,
        );
        put_seq(&mut study, tags::REFERENCED_SERIES_SEQUENCE, series_items);
        vec![study]
    }

    fn device_observer(&self) -> Vec<Item> {
        let e = &self.study.equipment;
        vec![
            Item::new(
                "HAS OBS CONTEXT",
                dcm("121005", "Observer Type"),
                Value::Code(dcm("121007", "Device")),
            ),
            Item::new(
                "HAS OBS CONTEXT",
                dcm("121012", "Device Observer UID"),
                Value::UidRef(crate::uid::IMPLEMENTATION_CLASS_UID.to_string()),
            ),
            Item::new(
                "HAS OBS CONTEXT",
                dcm("121013", "Device Observer Name"),
                Value::Text(e.station_name.clone()),
            ),
            Item::new(
                "HAS OBS CONTEXT",
                dcm("121014", "Device Observer Manufacturer"),
                Value::Text(e.manufacturer.clone()),
            ),
            Item::new(
                "HAS OBS CONTEXT",
                dcm("121015", "Device Observer Model Name"),
                Value::Text(e.model_name.clone()),
            ),
            Item::new(
                "HAS OBS CONTEXT",
                dcm("121016", "Device Observer Serial Number"),
                Value::Text(e.serial_number.clone()),
            ),
        ]
    }

    fn finish(
        &self,
        o: &InMemDicomObject,
        sop_class: &str,
        uid: String,
        series: String,
    ) -> Result<Instance, SrError> {
        Ok(Instance {
            sop_class_uid: sop_class.into(),
            sop_instance_uid: uid,
            series_instance_uid: series,
            bytes: encode_part10(o, &self.transfer_syntax)?,
        })
    }

    /// The X-Ray Radiation Dose SR (CT Radiation Dose, TID 10011).
    pub fn dose_report(&self, dose: &DoseReport) -> Result<Instance, SrError> {
        if dose.events.is_empty() {
            return Err(SrError::Empty(
                "a dose report needs at least one irradiation event",
            ));
        }
        for e in &dose.events {
            for (field, value) in [
                ("CTDIvol", e.ctdi_vol.0),
                ("DLP", e.dlp.0),
                ("kVp", e.kvp),
                ("tube current", e.tube_current_ma),
                ("exposure time", e.exposure_time_s),
                ("scanning length", e.scanning_length_mm),
            ] {
                if !(value.is_finite() && value >= 0.0) {
                    return Err(SrError::BadValue { field, value });
                }
            }
        }
        let (mut o, uid, series) = self.document(XRAY_RADIATION_DOSE_SR, "SR", 997, "Dose Report");
        self.sr_general(&mut o, &[]);
        // Enhanced General Equipment (Type 1 in this IOD).
        let mut children = vec![
            Item::new(
                "HAS CONCEPT MOD",
                dcm("121058", "Procedure reported"),
                Value::Code(Code::new("77477000", "SCT", "Computed Tomography X-Ray")),
            )
            .with(vec![Item::new(
                "HAS CONCEPT MOD",
                Code::new("363703001", "SCT", "Has Intent"),
                Value::Code(Code::new("261004008", "SCT", "Diagnostic Intent")),
            )]),
        ];
        children.extend(self.device_observer());
        children.push(
            Item::new(
                "HAS OBS CONTEXT",
                dcm("113705", "Scope of Accumulation"),
                Value::Code(dcm("113014", "Study")),
            )
            .with(vec![Item::new(
                "HAS PROPERTIES",
                dcm("110180", "Study Instance UID"),
                Value::UidRef(self.study.study_instance_uid.clone()),
            )]),
        );
        children.push(Item::container(
            "CONTAINS",
            dcm("113811", "CT Accumulated Dose Data"),
            vec![
                Item::new(
                    "CONTAINS",
                    dcm("113812", "Total Number of Irradiation Events"),
                    Value::Num(dose.events.len() as f64, ucum("{events}", "events")),
                ),
                Item::new(
                    "CONTAINS",
                    dcm("113813", "CT Dose Length Product Total"),
                    Value::Num(dose.total_dlp().0, ucum("mGy.cm", "mGy.cm")),
                ),
            ],
        ));
        for e in &dose.events {
            children.push(self.irradiation_event(e));
        }
        children.push(Item::new(
            "CONTAINS",
            dcm("113854", "Source of Dose Information"),
            Value::Code(dcm("113856", "Automated Data Collection")),
        ));
        let mut root = Item::container(
            "CONTAINS",
            dcm("113701", "X-Ray Radiation Dose Report"),
            children,
        );
        root.relationship = None;
        root.template = Some("10011");
        root.write(&mut o);
        self.finish(&o, XRAY_RADIATION_DOSE_SR, uid, series)
    }

    fn irradiation_event(&self, e: &CtIrradiationEvent) -> Item {
        let num = |code: &str, meaning: &str, v: f64, unit: Code| {
            Item::new("CONTAINS", dcm(code, meaning), Value::Num(v, unit))
        };
        let acquisition_type = if e.is_scout {
            dcm("113805", "Constant Angle Acquisition")
        } else {
            dcm("113804", "Sequenced Acquisition")
        };
        let source = Item::container(
            "CONTAINS",
            dcm("113831", "CT X-Ray Source Parameters"),
            vec![
                Item::new(
                    "CONTAINS",
                    dcm("113832", "Identification of the X-Ray Source"),
                    Value::Text("1".into()),
                ),
                num("113733", "KVP", e.kvp, ucum("kV", "kV")),
                num(
                    "113833",
                    "Maximum X-Ray Tube Current",
                    e.max_tube_current_ma,
                    ucum("mA", "mA"),
                ),
                num(
                    "113734",
                    "X-Ray Tube Current",
                    e.tube_current_ma,
                    ucum("mA", "mA"),
                ),
                num(
                    "113834",
                    "Exposure Time per Rotation",
                    e.rotation_time_s,
                    ucum("s", "s"),
                ),
            ],
        );
        let mut params = vec![
            num("113824", "Exposure Time", e.exposure_time_s, ucum("s", "s")),
            num(
                "113825",
                "Scanning Length",
                e.scanning_length_mm,
                ucum("mm", "mm"),
            ),
            num(
                "113826",
                "Nominal Single Collimation Width",
                e.single_collimation_mm,
                ucum("mm", "mm"),
            ),
            num(
                "113827",
                "Nominal Total Collimation Width",
                e.total_collimation_mm,
                ucum("mm", "mm"),
            ),
        ];
        if !e.is_scout {
            // Pitch Factor is required for spiral and sequenced acquisitions (TID 10014).
            params.push(num("113828", "Pitch Factor", 1.0, ucum("{ratio}", "ratio")));
        }
        params.push(num(
            "113823",
            "Number of X-Ray Sources",
            1.0,
            ucum("{X-Ray sources}", "X-Ray sources"),
        ));
        params.push(source);
        let phantom = e.phantom.code();
        Item::container(
            "CONTAINS",
            dcm("113819", "CT Acquisition"),
            vec![
                Item::new(
                    "CONTAINS",
                    dcm("125203", "Acquisition Protocol"),
                    Value::Text(e.protocol.clone()),
                ),
                Item::new(
                    "CONTAINS",
                    dcm("123014", "Target Region"),
                    Value::Code(e.target_region.clone()),
                ),
                Item::new(
                    "CONTAINS",
                    dcm("113820", "CT Acquisition Type"),
                    Value::Code(acquisition_type),
                ),
                Item::new(
                    "CONTAINS",
                    dcm("113769", "Irradiation Event UID"),
                    Value::UidRef(e.event_uid.clone()),
                ),
                Item::container(
                    "CONTAINS",
                    dcm("113822", "CT Acquisition Parameters"),
                    params,
                ),
                Item::container(
                    "CONTAINS",
                    dcm("113829", "CT Dose"),
                    vec![
                        num("113830", "Mean CTDIvol", e.ctdi_vol.0, ucum("mGy", "mGy")),
                        Item::new(
                            "CONTAINS",
                            dcm("113835", "CTDIw Phantom Type"),
                            Value::Code(phantom),
                        ),
                        num("113838", "DLP", e.dlp.0, ucum("mGy.cm", "mGy.cm")),
                    ],
                ),
            ],
        )
    }

    /// The findings report: a Comprehensive SR laid out as TID 2000 (Basic Diagnostic
    /// Imaging Report), with the procedure, the dose summary, each finding (with its key
    /// images as INFERRED FROM references) and the conclusions.
    pub fn findings_report(&self, report: &FindingsReport) -> Result<Instance, SrError> {
        for m in report
            .findings
            .iter()
            .flat_map(|f| f.measurements.iter())
            .chain(report.measurements.iter().map(|m| &m.measurement))
        {
            if !(m.value.is_finite() && m.value >= 0.0) {
                return Err(SrError::BadValue {
                    field: m.quantity.name(),
                    value: m.value,
                });
            }
        }
        let (mut o, uid, series) = self.document(COMPREHENSIVE_SR, "SR", 998, "Findings");
        let evidence: Vec<ImageRef> = report
            .findings
            .iter()
            .flat_map(|f| f.key_images.iter().cloned())
            .collect();
        self.sr_general(&mut o, &evidence);
        let mut children = vec![Item::new(
            "HAS CONCEPT MOD",
            dcm("121049", "Language of Content Item and Descendants"),
            Value::Code(Code::new("en-US", "RFC5646", "English (United States)")),
        )];
        children.extend(self.device_observer());
        children.push(Item::container(
            "CONTAINS",
            dcm("121064", "Current Procedure Descriptions"),
            vec![Item::new(
                "CONTAINS",
                dcm("121065", "Procedure Description"),
                Value::Text(report.procedure.clone()),
            )],
        ));
        let mut findings: Vec<Item> = report
            .findings
            .iter()
            .map(|f| {
                let mut refs: Vec<Item> = f
                    .key_images
                    .iter()
                    .map(|r| Item {
                        relationship: Some("INFERRED FROM"),
                        concept: None,
                        value: Value::Image(r.clone()),
                        template: None,
                        children: vec![],
                    })
                    .collect();
                if let Some(size) = f.size_mm {
                    refs.insert(
                        0,
                        Item::new(
                            "INFERRED FROM",
                            Code::new("103355008", "SCT", "Width"),
                            Value::Num(size, ucum("mm", "mm")),
                        ),
                    );
                }
                for (k, m) in f.measurements.iter().enumerate() {
                    refs.insert(k, m.item());
                }
                Item::new(
                    "CONTAINS",
                    dcm("121071", "Finding"),
                    Value::Text(f.text.clone()),
                )
                .with(refs)
            })
            .collect();
        for m in &report.measurements {
            findings.push(
                Item::new(
                    "CONTAINS",
                    dcm("121071", "Finding"),
                    Value::Text(m.label.clone()),
                )
                .with(vec![m.measurement.item()]),
            );
        }
        if findings.is_empty() {
            findings.push(Item::new(
                "CONTAINS",
                dcm("121071", "Finding"),
                Value::Text("No automated findings available.".into()),
            ));
        }
        children.push(Item::container(
            "CONTAINS",
            dcm("121070", "Findings"),
            findings,
        ));
        if let Some(c) = &report.conclusion {
            children.push(Item::container(
                "CONTAINS",
                dcm("121076", "Conclusions"),
                vec![Item::new(
                    "CONTAINS",
                    dcm("121077", "Conclusion"),
                    Value::Text(c.clone()),
                )],
            ));
        }
        let mut root = Item::container(
            "CONTAINS",
            Code::new("18748-4", "LN", "Diagnostic Imaging Report"),
            children,
        );
        root.relationship = None;
        root.template = Some("2000");
        root.write(&mut o);
        self.finish(&o, COMPREHENSIVE_SR, uid, series)
    }

    /// The key-object selection (TID 2010, "Of Interest") pointing at `images`.
    pub fn key_images(&self, images: &[ImageRef], description: &str) -> Result<Instance, SrError> {
        if images.is_empty() {
            return Err(SrError::Empty(
                "a key-object selection needs at least one image",
            ));
        }
        let (mut o, uid, series) = self.document(KEY_OBJECT_SELECTION, "KO", 999, "Key Images");
        put_seq(
            &mut o,
            tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
            self.evidence(images),
        );
        self.referenced_request(&mut o);
        let mut children = Vec::new();
        if !description.is_empty() {
            children.push(Item::new(
                "CONTAINS",
                dcm("113012", "Key Object Description"),
                Value::Text(description.into()),
            ));
        }
        for r in images {
            children.push(Item {
                relationship: Some("CONTAINS"),
                concept: None,
                value: Value::Image(r.clone()),
                template: None,
                children: vec![],
            });
        }
        let mut root = Item::container("CONTAINS", dcm("113000", "Of Interest"), children);
        root.relationship = None;
        root.template = Some("2010");
        root.write(&mut o);
        self.finish(&o, KEY_OBJECT_SELECTION, uid, series)
    }
}

/// What a [`Measurement`] measures; each quantity has its concept code and UCUM unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// Volume in mL (SCT 118565006 "Volume", UCUM `ml`).
    VolumeMl,
    /// Largest thickness (depth from the inner table, or across a clot) in mm (SCT 131197000
    /// "Depth", UCUM `mm`).
    ThicknessMm,
    /// Diameter in mm (SCT 81827009 "Diameter", UCUM `mm`).
    DiameterMm,
    /// A distance in mm, such as a midline shift (DCM 121206 "Distance", UCUM `mm`).
    DistanceMm,
    /// Mean CT number in HU (DCM 112031 "Attenuation Coefficient", UCUM `[hnsf'U]`).
    MeanHu,
}

impl Quantity {
    /// A name for errors and files.
    pub fn name(self) -> &'static str {
        match self {
            Quantity::VolumeMl => "volume_ml",
            Quantity::ThicknessMm => "thickness_mm",
            Quantity::DiameterMm => "diameter_mm",
            Quantity::DistanceMm => "distance_mm",
            Quantity::MeanHu => "mean_hu",
        }
    }

    /// The concept the SR names the value with.
    pub fn concept(self) -> Code {
        match self {
            Quantity::VolumeMl => Code::new("118565006", "SCT", "Volume"),
            Quantity::ThicknessMm => Code::new("131197000", "SCT", "Depth"),
            Quantity::DiameterMm => Code::new("81827009", "SCT", "Diameter"),
            Quantity::DistanceMm => dcm("121206", "Distance"),
            Quantity::MeanHu => dcm("112031", "Attenuation Coefficient"),
        }
    }

    /// The unit (UCUM).
    pub fn unit(self) -> Code {
        match self {
            Quantity::VolumeMl => ucum("ml", "milliliter"),
            Quantity::ThicknessMm | Quantity::DiameterMm | Quantity::DistanceMm => {
                ucum("mm", "millimeter")
            }
            Quantity::MeanHu => ucum("[hnsf'U]", "Hounsfield unit"),
        }
    }
}

/// A measured value with its quantity (and so its unit); written as a NUM content item with
/// the quantity's concept and UCUM unit. Values must be finite and >= 0.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Measurement {
    /// What is measured.
    pub quantity: Quantity,
    /// The value, in the quantity's unit.
    pub value: f64,
}

impl Measurement {
    /// A measurement.
    pub fn new(quantity: Quantity, value: f64) -> Self {
        Self { quantity, value }
    }

    fn item(&self) -> Item {
        Item::new(
            "HAS PROPERTIES",
            self.quantity.concept(),
            Value::Num(self.value, self.quantity.unit()),
        )
    }
}

/// A measurement of the whole study (midline shift, ventricle volume), with its label.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StudyMeasurement {
    /// What it is, in words (`Midline shift towards the left`).
    pub label: String,
    /// The value.
    pub measurement: Measurement,
}

/// One finding of the automatic diagnosis.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// The finding in words.
    pub text: String,
    /// Its largest diameter in mm, when measured.
    pub size_mm: Option<f64>,
    /// Its measurements with their units (volume, thickness, mean CT number...).
    #[serde(default)]
    pub measurements: Vec<Measurement>,
    /// The images that show it.
    pub key_images: Vec<ImageRef>,
}

/// The findings of one study.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FindingsReport {
    /// The procedure as performed (protocol, dose summary).
    pub procedure: String,
    /// The findings; an empty list writes "No automated findings available."
    pub findings: Vec<Finding>,
    /// The conclusion, when there is one.
    pub conclusion: Option<String>,
    /// Measurements of the whole study (midline shift, ventricle volume).
    #[serde(default)]
    pub measurements: Vec<StudyMeasurement>,
}
