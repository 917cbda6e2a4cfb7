#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/ (small valid files).

Run from anywhere: python3 fuzz/make_seeds.py [--roboct PATH]. Standard library only; the DICOM
seeds also need a roboct binary (export-dicom, import-dicom) and dcmtk (dcmcrle, dcmcjpeg,
dcmconv), and are skipped with a note when those are missing. The files libFuzzer adds while
fuzzing are not kept here: scripts/fuzz works on a copy (see fuzz/README.md).
"""

import argparse
import gzip
import shutil
import struct
import subprocess
import sys
import tempfile
import wave
import zlib
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"
SEP = b"\n--8<--\n"  # roboct_fuzz::SEPARATOR


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def data(crate, name):
    return (ROOT / "crates" / crate / "tests" / "data" / name).read_bytes()


def geometry():
    cone = """kind = "cone"
source_to_isocenter_mm = 600
source_to_detector_mm = 1000
[detector]
cols = 16
rows = 8
pixel_mm = [1.5, 1.25]
offset_mm = [3.0, -1.0]
[angles]
start_deg = 0
stop_deg = 360
count = 12
[volume]
size = [8, 8, 4]
voxel_mm = 2
center_mm = [0, 0, 5]
"""
    put("geometry_toml", "cone.toml", cone)
    put("geometry_toml", "cone_arc_moved.toml", cone.replace("[detector]", 'isocenter_mm = [3, -4, 10]\n[detector]\nshape = "arc"\nrotation_deg = 2').replace("[volume]\nsize = [8, 8, 4]\nvoxel_mm = 2\ncenter_mm = [0, 0, 5]\n", ""))
    put("geometry_toml", "parallel2d.toml", 'kind = "parallel2d"\n[detector]\ncols = 10\npixel_mm = 0.5\n[angles]\nstop_deg = 180\ncount = 6\n[volume]\nsize = [8, 8]\nvoxel_mm = [0.5, 0.5]\n')
    put("geometry_toml", "fan_list.toml", 'kind = "fan"\nsource_to_isocenter_mm = 500\nsource_to_detector_mm = 900\n[detector]\ncols = 12\npixel_mm = 1\n[angles]\nlist_deg = [0, 30, 60, 95.5]\n')
    put("geometry_toml", "parallel3d_oriented.toml", 'kind = "parallel3d"\n[detector]\ncols = 8\nrows = 4\npixel_mm = 1\n[angles]\nstart_deg = 10\nstop_deg = 190\ncount = 5\n[volume]\nsize = [4, 4, 2]\norigin_mm = [1, 2, 3]\ndirection = [[-1, 0, 0], [0, -1, 0], [0, 0, 1]]\n')
    views = ""
    for s, d, u in [([0, -600, 0], [0, 400, 0], [1, 0, 0]), ([600, 0, 0], [-400, 0, 0], [0, 1, 0]), ([0, 600, 0], [0, -400, 0], [-1, 0, 0])]:
        views += f"[[views]]\nsource_mm = {s}\ndetector_mm = {d}\nu_mm = {u}\nv_mm = [0, 0, 1]\n"
    put("geometry_toml", "vec_cone.toml", 'kind = "vec"\n[detector]\ncols = 8\nrows = 4\n' + views)
    put("geometry_toml", "vec_parallel.toml", 'kind = "vec"\n[detector]\ncols = 8\nrows = 4\npixel_mm = 1\n[[views]]\nray_mm = [0, 1, 0]\ndetector_mm = [0, 0, 0]\nu_mm = [1, 0, 0]\nv_mm = [0, 0, 1]\n')
    for name in ["rtk_cyl.xml", "rtk_offsets.xml", "rtk_parallel.xml", "rtk_shortscan.xml"]:
        # Two bytes of detector sampling (cols - 1, rows - 1), then the file.
        put("rtk_xml", name, bytes([15, 7]) + data("roboct-geometry", name))


def arrays():
    for name in ["itk_rotated.mha", "itk_rotated_zlib.mha", "itk_short.mha"]:
        put("metaimage", name, data("roboct-io", name))
    # A detached header: the harness also writes the input as data.raw beside it.
    put("metaimage", "detached.mhd", "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nElementDataFile = data.raw\n")
    put("metaimage", "msb_double.mha", b"ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = True\nDimSize = 2 1 1\nElementSpacing = 0.5 0.5 1\nOffset = 1 2 3\nElementType = MET_DOUBLE\nElementDataFile = LOCAL\n" + struct.pack(">2d", 1.5, -2.0))
    put("npy", "f64_fortran.npy", data("roboct-io", "f64_fortran.npy"))
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }"
    header = header + " " * (117 - len(header)) + "\n"
    put("npy", "f32_c.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack("<24f", *range(24)))
    for name in ["itk_rotated.nii", "itk_rotated.nii.gz"]:
        put("nifti", name, data("roboct-io", name))


def pgm(w, h):
    rows = []
    for y in range(h):
        rows.append(bytes(0 if x in (0, w - 1) or y in (0, h - 1) else 254 for x in range(w)))
    return b"P5\n%d %d\n255\n" % (w, h) + b"".join(rows)


def png(w, h, alpha=False):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    channels = 2 if alpha else 1
    raw = b""
    for y in range(h):
        row = bytearray()
        for x in range(w):
            v = 0 if x in (0, w - 1) or y in (0, h - 1) else 254
            row += bytes([v, 255] if alpha else [v])
        raw += b"\x00" + bytes(row)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 4 if alpha else 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def maps():
    yaml = "image: map.pgm\nresolution: 0.25\norigin: [-1, -1, 0.0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.196\n"
    put("ros_map", "pgm", yaml.encode() + SEP + pgm(40, 40))
    put("ros_map", "png_alpha_raw", yaml.replace("map.pgm", "map.png").replace("negate: 0", "negate: 1\nmode: raw").encode() + SEP + png(16, 12, alpha=True))
    put("ros_map", "png_scale", yaml.replace("map.pgm", "map.png").replace("negate: 0", "negate: 0\nmode: scale").encode() + SEP + png(8, 8))
    site = """name: fuzz site
floors:
  - { number: 0, name: ground floor, map: floor-0.yaml }
  - { number: 1, name: first floor, map: floor-1.yaml }
places:
  - { name: dock, kind: dock, floor: 0, pose: { x: 2.0, y: 2.0, yaw_deg: 90 } }
  - name: ward-1/bed-1
    kind: bed
    floor: 1
    pose: { x: 6.0, y: 4.0, yaw_deg: 180 }
    bed: { x: 3.5, y: 4.0, yaw_deg: 180, length_m: 2.1, width_m: 1.0 }
    head_end: { x: 2.5, y: 4.0 }
doors:
  - { name: ward-1/room-1, floor: 1, automatic: false, area: [[1, 6], [2.4, 6], [2.4, 6.3], [1, 6.3]] }
elevators:
  - name: lift-A
    car: [[6.0, 6.0], [7.5, 6.0], [7.5, 7.5], [6.0, 7.5]]
    stops: [ { floor: 0, pose: { x: 5, y: 6.7, yaw_deg: 0 } }, { floor: 1, pose: { x: 5, y: 6.7, yaw_deg: 0 } } ]
    travel_s_per_floor: 6
speed_zones:
  - { name: ward-1, floor: 1, max_speed_mps: 0.3, area: [[0, 0], [8, 0], [8, 3], [0, 3]] }
keep_out:
  - { name: MRI, floor: 0, area: [[5, 1], [7, 1], [7, 2], [5, 2]] }
"""
    put("nav_site", "site", site.encode() + SEP + yaml.encode() + SEP + pgm(40, 40))
    put("nav_site", "bare_map", yaml.encode() + SEP + SEP + pgm(40, 40))


def configs():
    put("mission_site", "site.toml", 'map = "site-map.yaml"\ndock = "dock"\npacs = "pacs.toml"\nnotification_head_mgy = 40\nnotification_body_mgy = 30\nexposure_radius_m = 2.5\nbattery_reserve = 0.2\n')
    text = (ROOT / "crates/roboct-dicom/src/config.rs").read_text()
    doc = [l[4:] if l.startswith("//! ") else "" for l in text.splitlines() if l.startswith("//!")]
    start = doc.index("[station]")
    example = "\n".join(doc[start:doc.index("```", start)]) + "\n"
    put("pacs_config", "doc_example.toml", example)
    put("pacs_config", "local_stow.toml", '[station]\nae_title = "ROBOCT"\n\n[pacs.local]\nprotocol = "stow"\ndicomweb_url = "http://127.0.0.1:8042/dicom-web"\ntoken_env = "ROBOCT_TOKEN"\ntimeout_s = 30\n')


def sentences():
    for i, s in enumerate(["go to ward 3 bed 12", "scan the head", "stop", "start a head scan at 120 kV please",
                           "cancel", "confirm", "where are you", "go to bed twelve in ward three and scan the chest",
                           "停止", "扫描头部", "去三病房十二床"]):
        put("dialogue_text", f"s{i:02}.txt", s)


def wavs():
    def pcm(rate, channels, width, frames):
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            with wave.open(f.name, "wb") as w:
                w.setnchannels(channels)
                w.setsampwidth(width)
                w.setframerate(rate)
                top = 2 ** (8 * width - 1) - 1
                vals = [int(top * 0.3 * ((i % 40) / 20 - 1)) for i in range(frames * channels)]
                if width == 1:
                    w.writeframes(bytes((v + 128) & 0xFF for v in vals))
                else:
                    w.writeframes(b"".join(v.to_bytes(width, "little", signed=True) for v in vals))
            return Path(f.name).read_bytes()
    put("wav", "16k_mono_16.wav", pcm(16000, 1, 2, 400))
    put("wav", "8k_mono_8.wav", pcm(8000, 1, 1, 200))
    put("wav", "44k_stereo_16.wav", pcm(44100, 2, 2, 300))
    put("wav", "22k_mono_24.wav", pcm(22050, 1, 3, 200))
    # 32-bit float (format tag 3), written by hand: the wave module writes integer PCM only.
    samples = struct.pack("<200f", *[0.2 * ((i % 40) / 20 - 1) for i in range(200)])
    fmt = struct.pack("<HHIIHH", 3, 1, 48000, 48000 * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + samples
    put("wav", "48k_float.wav", b"RIFF" + struct.pack("<I", len(body)) + body)


def dicom(roboct):
    tools = ["dcmcrle", "dcmcjpeg", "dcmconv"]
    if not (roboct and Path(roboct).exists()) or not all(shutil.which(t) for t in tools):
        print("skipping DICOM seeds: need --roboct PATH and dcmtk (" + ", ".join(tools) + ")", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        nii = ROOT / "crates/roboct-io/tests/data/itk_rotated.nii"
        run = lambda *a: subprocess.run([str(x) for x in a], check=True, capture_output=True)
        run(roboct, "-q", "export-dicom", "--out", t / "ct", nii)
        run(roboct, "-q", "export-dicom", "--deflate", "--out", t / "ctz", nii)
        run(roboct, "-q", "import-dicom", "--out", t / "vol.nii", t / "ct")
        put("dicom_context", "vol.nii.dicom.json", (t / "vol.nii.dicom.json").read_bytes())
        series = {}
        for kind in ["ct", "ctz"]:
            series[kind] = sorted((t / kind).glob("*.dcm"))
        for kind, tool, args in [("rle", "dcmcrle", []), ("jpeg", "dcmcjpeg", []), ("implicit", "dcmconv", ["+ti"]), ("big", "dcmconv", ["+tb"])]:
            (t / kind).mkdir()
            series[kind] = []
            for i, f in enumerate(series["ct"]):
                out = t / kind / f"{i}.dcm"
                run(tool, *args, f, out)
                series[kind].append(out)
        for kind, files in series.items():
            put("dicom_file", f"{kind}.dcm", files[0].read_bytes())
            put("dicom_folder", kind, SEP.join(f.read_bytes() for f in files))
        put("dicom_folder", "two_series", series["ct"][0].read_bytes() + SEP + series["ctz"][0].read_bytes() + SEP + b"not dicom")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--roboct", help="a roboct binary, for the DICOM seeds")
    args = ap.parse_args()
    geometry()
    arrays()
    maps()
    configs()
    sentences()
    wavs()
    dicom(args.roboct)
    total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
    print(f"{CORPUS}: {sum(1 for f in CORPUS.rglob('*') if f.is_file())} files, {total} bytes")


if __name__ == "__main__":
    main()
