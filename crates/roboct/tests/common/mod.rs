//! Running the `roboct` binary from the integration tests.

#![allow(dead_code)]

use std::process::{Command, Output};

/// The built `roboct` binary with `args`, progress bars hidden.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_roboct"));
    c.arg("--quiet").args(args);
    c
}

/// Runs `roboct args` and returns what it did.
pub fn roboct(args: &[&str]) -> Output {
    command(args).output().expect("run roboct")
}

/// The test venv's python (pydicom, pynetdicom, numpy), from `ROBOCT_TEST_VENV` or `./.venv`.
pub fn python() -> std::path::PathBuf {
    let venv = std::env::var_os("ROBOCT_TEST_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "no test venv at {}: run ./scripts/deps first",
        venv.display()
    );
    py
}

/// Fills `dir` for dcmtk's `wlmscpfs -dfp dir`: the called AE's folder `dir/WLM/` with its
/// lockfile and one CT scheduled for station ROBOCT on 2026-11-29 (patient ROE^RICHARD,
/// PID-77, accession ACC77, referring HOUSE^GREGORY), written by dcmtk's `dump2dcm`.
/// `procedure` is the requested procedure (`CT HEAD`), `location` the patient's current
/// location (`WARD 3 BED 12`).
pub fn write_worklist(dir: &std::path::Path, procedure: &str, location: &str) {
    let ae = dir.join("WLM");
    std::fs::create_dir(&ae).unwrap();
    std::fs::write(ae.join("lockfile"), b"").unwrap();
    let dump = format!(
        "(0008,0005) CS [ISO_IR 100]\n(0008,0050) SH [ACC77]\n(0008,0090) PN [HOUSE^GREGORY]\n(0010,0010) PN [ROE^RICHARD]\n(0010,0020) LO [PID-77]\n\
(0010,0030) DA [19700101]\n(0010,0040) CS [M]\n(0020,000d) UI [1.2.3.77]\n(0032,1060) LO [{procedure}]\n\
(0038,0300) LO [{location}]\n(0040,1001) SH [RP77]\n(0040,0100) SQ (Sequence with explicit length #=1)\n\
(fffe,e000) na (Item with explicit length #=6)\n(0008,0060) CS [CT]\n(0040,0001) AE [ROBOCT]\n\
(0040,0002) DA [20261129]\n(0040,0003) TM [101500]\n(0040,0007) LO [{procedure}]\n(0040,0009) SH [SPS77]\n\
(fffe,e00d) na (ItemDelimitationItem for re-encoding)\n(fffe,e0dd) na (SequenceDelimitationItem for re-encoding)\n"
    );
    let dump_file = dir.join("o.dump");
    std::fs::write(&dump_file, dump).unwrap();
    let st = Command::new("dump2dcm")
        .arg(&dump_file)
        .arg(ae.join("o.wl"))
        .status()
        .expect("run dcmtk's dump2dcm (./scripts/deps installs it)");
    assert!(st.success(), "dump2dcm failed on the worklist dump");
}
