//! The ONNX runner, with a tiny model the test builds itself (nothing is downloaded): a
//! "blood probability" `sigmoid(k (x - t))` of the windowed input, in a file, loaded through
//! [`OnnxDetector`] and run by the whole reader on a phantom head with a bleed.

mod common;

use prost::Message;
use roboct_diagnosis::morph::Dims;
use roboct_diagnosis::{
    Detector, DetectorError, FindingKind, OnnxDetector, OnnxLayout, ReadOptions, Scan,
    diagnose_with,
};
use tract_onnx::pb;

fn value_info(name: &str, rank: usize) -> pb::ValueInfoProto {
    let dim = (0..rank)
        .map(|i| pb::tensor_shape_proto::Dimension {
            denotation: String::new(),
            value: Some(pb::tensor_shape_proto::dimension::Value::DimParam(format!(
                "d{i}"
            ))),
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: pb::tensor_proto::DataType::Float as i32,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
        }),
        doc_string: String::new(),
    }
}

fn scalar(name: &str, v: f32) -> pb::TensorProto {
    pb::TensorProto {
        dims: vec![],
        data_type: pb::tensor_proto::DataType::Float as i32,
        float_data: vec![v],
        name: name.into(),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str) -> pb::NodeProto {
    pb::NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: output.into(),
        op_type: op.into(),
        ..Default::default()
    }
}

/// `y = sigmoid(k (x - t))` for an input of `rank` dimensions; with `reduce`, the output is
/// the mean over everything instead (a wrong shape for a detector).
fn model(rank: usize, t: f32, k: f32, reduce: bool) -> Vec<u8> {
    let mut nodes = vec![
        node("Sub", &["x", "t"], "d"),
        node("Mul", &["d", "k"], "e"),
        node("Sigmoid", &["e"], "y"),
    ];
    if reduce {
        nodes.push(pb::NodeProto {
            attribute: vec![pb::AttributeProto {
                name: "keepdims".into(),
                r#type: pb::attribute_proto::AttributeType::Int as i32,
                i: 0,
                ..Default::default()
            }],
            ..node("ReduceMean", &["y"], "z")
        });
    }
    let graph = pb::GraphProto {
        node: nodes,
        name: "blood".into(),
        initializer: vec![scalar("t", t), scalar("k", k)],
        input: vec![value_info("x", rank)],
        output: vec![value_info(
            if reduce { "z" } else { "y" },
            if reduce { 0 } else { rank },
        )],
        ..Default::default()
    };
    pb::ModelProto {
        ir_version: 7,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        producer_name: "roboct test".into(),
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn the_runner_gives_the_model_s_probabilities() {
    // A 1 x 2 x 3 "volume": the model sees (hu - 0) / 80 and thresholds at 0.6875 (55 HU).
    let d = Dims {
        nz: 1,
        ny: 2,
        nx: 3,
        spacing_mm: [1.0; 3],
    };
    let hu = [-1000.0f32, 20.0, 50.0, 60.0, 80.0, 1000.0];
    let inside = [false, true, true, true, true, true];
    let dist = [10.0f32; 6];
    let scan = Scan {
        hu: &hu,
        smoothed: &hu,
        dims: d,
        intracranial: &inside,
        skull_distance_mm: &dist,
        grey_hu: 40.0,
        smoothed_noise_hu: 2.0,
    };
    let dir = tempfile::tempdir().unwrap();
    for (layout, rank) in [(OnnxLayout::Slices, 4), (OnnxLayout::Volume, 5)] {
        let path = dir.path().join(format!("blood{rank}.onnx"));
        std::fs::write(&path, model(rank, 0.6875, 40.0, false)).unwrap();
        let det = OnnxDetector::from_file(&path, layout, (40.0, 80.0)).unwrap();
        let p = det.blood_probability(&scan).unwrap();
        let expect = |v: f32| 1.0 / (1.0 + (-40.0 * ((v / 80.0).clamp(0.0, 1.0) - 0.6875)).exp());
        assert_eq!(p[0], 0.0, "outside the skull is never blood");
        for i in 1..6 {
            assert!(
                (p[i] - expect(hu[i])).abs() < 1e-5,
                "{layout:?} {i}: {} vs {}",
                p[i],
                expect(hu[i])
            );
        }
        assert!(p[3] > 0.5 && p[2] < 0.5);
    }
}

#[test]
fn bad_models_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"not a model").unwrap();
    let e = OnnxDetector::from_file(&junk, OnnxLayout::Slices, (40.0, 80.0)).unwrap_err();
    assert!(matches!(e, DetectorError::Model { .. }), "{e}");
    assert!(e.to_string().contains("junk.onnx"), "{e}");
    let missing = OnnxDetector::from_file(
        &dir.path().join("none.onnx"),
        OnnxLayout::Slices,
        (40.0, 80.0),
    )
    .unwrap_err();
    assert!(missing.to_string().contains("none.onnx"));
    let bad_window = OnnxDetector::from_bytes(
        &model(4, 0.5, 1.0, false),
        "m",
        OnnxLayout::Slices,
        (40.0, 0.0),
    )
    .unwrap_err();
    assert!(bad_window.to_string().contains("width"), "{bad_window}");
    // A model whose output is not a probability per voxel.
    let reduce = OnnxDetector::from_bytes(
        &model(4, 0.5, 1.0, true),
        "mean.onnx",
        OnnxLayout::Slices,
        (40.0, 80.0),
    )
    .unwrap();
    let d = Dims {
        nz: 1,
        ny: 2,
        nx: 2,
        spacing_mm: [1.0; 3],
    };
    let v = [0.0f32; 4];
    let scan = Scan {
        hu: &v,
        smoothed: &v,
        dims: d,
        intracranial: &[true; 4],
        skull_distance_mm: &[9.0; 4],
        grey_hu: 40.0,
        smoothed_noise_hu: 2.0,
    };
    let e = reduce.blood_probability(&scan).unwrap_err();
    assert!(matches!(e, DetectorError::Output { .. }), "{e}");
}

#[test]
fn the_reader_runs_on_the_model() {
    let (volume, truth) = common::phantom_volume(
        21,
        &[(
            roboct_phantom::head::FindingKind::Intraparenchymal,
            12.0,
            roboct_phantom::head::Side::Right,
            75.0,
        )],
        2.0,
        3.0,
    );
    let det = OnnxDetector::from_bytes(
        &model(4, 0.72, 60.0, false),
        "blood.onnx",
        OnnxLayout::Slices,
        (40.0, 80.0),
    )
    .unwrap();
    let dx = diagnose_with(&volume, &det, &ReadOptions::default());
    assert!(dx.assessable, "{:?}", dx.reason);
    assert_eq!(dx.detector, "blood.onnx");
    let f = dx
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Intraparenchymal)
        .unwrap_or_else(|| panic!("{}", dx.text()));
    let t = &truth.findings[0];
    let d = (0..3)
        .map(|a| (f.centroid_mm[a] - t.centroid_mm[a]).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(
        d < 6.0,
        "centroid {:?} vs {:?}",
        f.centroid_mm,
        t.centroid_mm
    );
    assert!(
        (f.volume_ml - t.volume_ml).abs() / t.volume_ml < 0.35,
        "{} vs {}",
        f.volume_ml,
        t.volume_ml
    );
}
