mod common;
use roboct_phantom::head::{FindingKind, Side, head, HeadOptions, FindingSpec};
use roboct_geometry::VolumeGrid;

#[test]
fn scratch() {
    let spec = vec![FindingSpec{kind: FindingKind::Intraparenchymal, volume_ml: 12.0, side: Side::Right, hu: 75.0}];
    let h = head(&HeadOptions{seed:21, findings: spec, ..HeadOptions::default()}).unwrap();
    let truth = h.truth();
    let c = truth.landmarks["head_center"];
    let grid = VolumeGrid::centered([104,122,90],[2.0;3],[c[0],c[1],c[2]-5.0]).unwrap();
    let r = h.patient.rasterize(&grid, 1);
    let f = &r.finding_fractions[0];
    let mut s = [0.0f64;3]; let mut n = 0.0;
    for ((z,y,x),&v) in f.indexed_iter() { let p = grid.world_from_index([x as f64,y as f64,z as f64]); for a in 0..3 { s[a]+= v as f64*p[a]; } n += v as f64; }
    println!("raster centroid {:?} vol {} ; truth {:?} {}", s.map(|v| v/n), n*8.0/1000.0, truth.findings[0].centroid_mm, truth.findings[0].volume_ml);
    let (vol, _t) = common::phantom_volume(21, &[(FindingKind::Intraparenchymal, 12.0, Side::Right, 75.0)], 2.0, 3.0);
    let dx = roboct_diagnosis::diagnose(&vol);
    println!("{}", dx.text());
}

#[test]
fn scratch2() {
    let spec = vec![FindingSpec{kind: FindingKind::Intraparenchymal, volume_ml: 12.0, side: Side::Right, hu: 75.0}];
    let h = head(&HeadOptions{seed:21, findings: spec, ..HeadOptions::default()}).unwrap();
    let truth = h.truth();
    let c = truth.landmarks["head_center"];
    let grid = VolumeGrid::centered([104,122,90],[2.0;3],[c[0],c[1],c[2]-5.0]).unwrap();
    let r = h.patient.rasterize(&grid, 1);
    let f = &r.finding_fractions[0];
    let dx = roboct_diagnosis::diagnose(&r.hu);
    println!("{}", dx.text());
    let m = dx.masks.as_ref().unwrap();
    assert_eq!(m.grid, grid);
    for z in 0..90 { let mut a=0; let mut b=0; let mut hsum=0.0; for y in 0..122 { for x in 0..104 { if f[[z,y,x]]>=0.5 {a+=1; hsum += r.hu.data()[[z,y,x]];} if m.labels[(z*122+y)*104+x]!=0 {b+=1;} } } if a+b>0 { println!("z {z} truth {a} found {b} meanhu {}", hsum/(a.max(1) as f32)); } }
}
