"""roboct next to scikit-image (P2, 2D parallel FBP) and RTK (P3: cone-beam FDK, SART, conjugate
gradient), same data.

1. `roboct bench recon --save WORK` makes P2 and P3 (exact projections of analytic phantoms,
   the truth on the reconstruction grid, our TOML geometry and the same scan as an RTK XML),
   reconstructs them in-process and prints its own figures (best of --repeat runs).
2. scikit-image's `iradon` reconstructs the very P2 sinogram (P2 is laid out the way
   scikit-image lays out sinograms, so no resampling: see crates/roboct-bench/src/recon.rs).
3. RTK's CPU FDK (the pipeline of `rtkfdk`: displaced-detector and Parker filters, then
   `FDKConeBeamReconstructionFilter`, ram-lak, no padding) reconstructs the very P3 projections
   from the RTK geometry, on RTK's grid (RTK's frame: its (x, y, z) is our (x, z, -y)).

4. Iterative (--only iterative, or all): `roboct bench recon --problem iterative` runs OS-SART
   (10 subsets) and FISTA-TV on P3's data and saves them; RTK's CPU SART
   (`SARTConeBeamReconstructionFilter`: Joseph forward projector, its default voxel-based
   back-projector, 10 subsets of views, lambda 0.3 as rtksart) and conjugate gradient
   (`ConjugateGradientConeBeamReconstructionFilter`: Joseph forward and back projectors, unit
   weights) reconstruct the very same projections, next to roboct's OS-SART and CGLS
   (`roboct recon --algorithm cgls`). RTK is slow, so it runs fewer iterations
   (--rtk-iterations); the time per iteration is what compares, with each one's RMSE after
   the iterations it ran.

Times are of the reconstruction call alone (data already in memory), best of --repeat; RMSE
is against the same analytic truth, in 1/mm. The ratios printed are peer time / roboct time.
"""

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def run_roboct(roboct, work, problem, scale, repeat):
    out = work / f"roboct_{problem}.json"
    cmd = [str(roboct), "bench", "recon", "--problem", problem, "--scale", str(scale),
           "--repeat", str(repeat), "--save", str(work), "--json", str(out), "--quiet"]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())[0]


def best_of(repeat, fn):
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def rmse(a, b):
    return float(np.sqrt(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def skimage_p2(work, stem, repeat):
    from skimage.transform import iradon

    meta = json.loads((work / f"{stem}.json").read_text())
    sino = np.load(work / f"{stem}_projections.npy")[:, 0, :]  # (views, bins)
    truth = np.load(work / f"{stem}_truth.npy")[0]
    theta = -np.degrees(np.array(meta["angles_rad"]))  # scikit-image's theta is our -beta
    n = truth.shape[0]

    def recon():
        return iradon(sino.T, theta=theta, output_size=n, filter_name="ramp",
                      interpolation="linear", circle=False)

    secs, img = best_of(repeat, recon)
    ours = work / f"{stem}_recon.npy"
    vs_ours = rmse(img, np.load(ours)[0]) if ours.exists() else None
    return secs, rmse(img, truth), truth.size * len(theta), vs_ours


def rtk_p3(work, stem, repeat):
    import itk
    from itk import RTK as rtk

    meta = json.loads((work / f"{stem}.json").read_text())
    image_type = itk.Image[itk.F, 3]
    projections = itk.imread(str(work / f"{stem}_projections.mha"), itk.F)
    geometry = rtk.read_geometry(str(work / f"{stem}.xml"))
    nx, ny, nz = meta["grid_size"]
    sx, sy, sz = meta["voxel_mm"]
    # Our grid (x, y, z) in RTK's frame: x -> x, z -> y, y -> -z (a centred grid maps onto a
    # centred grid of size (nx, nz, ny)).
    size = [nx, nz, ny]
    spacing = [sx, sz, sy]
    origin = [-(n - 1) / 2 * s for n, s in zip(size, spacing)]

    def recon():
        source = rtk.ConstantImageSource[image_type].New()
        source.SetOrigin(origin)
        source.SetSpacing(spacing)
        source.SetSize(size)
        source.SetConstant(0.0)
        ddf = rtk.DisplacedDetectorForOffsetFieldOfViewImageFilter[image_type].New()
        ddf.SetInput(projections)
        ddf.SetGeometry(geometry)
        pssf = rtk.ParkerShortScanImageFilter[image_type].New()
        pssf.SetInput(ddf.GetOutput())
        pssf.SetGeometry(geometry)
        pssf.InPlaceOff()
        fdk = rtk.FDKConeBeamReconstructionFilter[image_type].New()
        fdk.SetInput(0, source.GetOutput())
        fdk.SetInput(1, pssf.GetOutput())
        fdk.SetGeometry(geometry)
        fdk.Update()
        return itk.array_from_image(fdk.GetOutput())  # [z_rtk][y_rtk][x_rtk]

    secs, vol = best_of(repeat, recon)
    truth = np.load(work / f"{stem}_truth.npy")  # ours, [z][y][x]
    # RTK's array [k][j][i] holds our voxel x = i, z = j, y = -k.
    truth_rtk = np.flip(truth, axis=1).transpose(1, 0, 2)
    ours = np.load(work / f"{stem}_recon.npy") if (work / f"{stem}_recon.npy").exists() else None
    central = slice(vol.shape[1] // 4, vol.shape[1] - vol.shape[1] // 4)  # central half of our z
    return {
        "seconds": secs,
        "rmse": rmse(vol, truth_rtk),
        "rmse_central": rmse(vol[:, central, :], truth_rtk[:, central, :]),
        "updates": truth.size * meta["views"],
        "vs_ours": None if ours is None else rmse(vol, np.flip(ours, axis=1).transpose(1, 0, 2)),
    }


def rtk_grid(meta):
    """Our P3 grid in RTK's frame (x -> x, z -> y, y -> -z): size, spacing, origin."""
    nx, ny, nz = meta["grid_size"]
    sx, sy, sz = meta["voxel_mm"]
    size = [nx, nz, ny]
    spacing = [sx, sz, sy]
    origin = [-(n - 1) / 2 * s for n, s in zip(size, spacing)]
    return size, spacing, origin


def rtk_iterative(work, stem, method, iterations, subsets):
    """RTK's CPU SART or conjugate gradient on P3's projections; seconds per iteration, RMSE."""
    import itk
    from itk import RTK as rtk

    meta = json.loads((work / f"{stem}.json").read_text())
    image_type = itk.Image[itk.F, 3]
    projections = itk.imread(str(work / f"{stem}_projections.mha"), itk.F)
    geometry = rtk.read_geometry(str(work / f"{stem}.xml"))
    size, spacing, origin = rtk_grid(meta)
    source = rtk.ConstantImageSource[image_type].New()
    source.SetOrigin(origin)
    source.SetSpacing(spacing)
    source.SetSize(size)
    source.SetConstant(0.0)
    source.Update()
    if method == "sart":
        f = rtk.SARTConeBeamReconstructionFilter[image_type, image_type].New()
        f.SetInput(0, source.GetOutput())
        f.SetInput(1, projections)
        f.SetGeometry(geometry)
        f.SetNumberOfIterations(iterations)
        f.SetNumberOfProjectionsPerSubset(max(1, meta["views"] // subsets))
        f.SetLambda(0.3)
        f.SetEnforcePositivity(True)
        f.SetForwardProjectionFilter(0)  # Joseph
        f.SetBackProjectionFilter(0)  # voxel-based (rtksart's default)
    else:
        ones = rtk.ConstantImageSource[image_type].New()
        ones.SetInformationFromImage(projections)
        ones.SetConstant(1.0)
        ones.Update()
        f = rtk.ConjugateGradientConeBeamReconstructionFilter[image_type].New()
        f.SetInputVolume(source.GetOutput())
        f.SetInputProjectionStack(projections)
        f.SetInputWeights(ones.GetOutput())
        f.SetGeometry(geometry)
        f.SetNumberOfIterations(iterations)
        f.SetForwardProjectionFilter(0)  # Joseph
        f.SetBackProjectionFilter(1)  # Joseph: the matched pair CG needs
    t = time.perf_counter()
    f.Update()
    secs = time.perf_counter() - t
    vol = itk.array_from_image(f.GetOutput())
    truth = np.load(work / f"{stem}_truth.npy")
    truth_rtk = np.flip(truth, axis=1).transpose(1, 0, 2)
    central = slice(vol.shape[1] // 4, vol.shape[1] - vol.shape[1] // 4)
    return {"seconds_per_iteration": secs / iterations, "iterations": iterations,
            "rmse": rmse(vol, truth_rtk), "rmse_central": rmse(vol[:, central, :], truth_rtk[:, central, :])}


def roboct_cgls(roboct, work, stem, iterations):
    """roboct's CGLS on P3's saved data through the CLI; seconds per iteration, RMSE."""
    out = work / f"{stem}_cgls_recon.npy"
    cmd = [str(roboct), "recon", "--geometry", str(work / f"{stem}.toml"), "--projections",
           str(work / f"{stem}_projections.npy"), "--algorithm", "cgls", "--iterations", str(iterations),
           "--out", str(out), "--quiet"]
    print("$", " ".join(cmd), flush=True)
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    print(text, end="")
    per = float(re.search(r"([0-9.]+) s per iteration", text).group(1))
    vol = np.load(out)
    truth = np.load(work / f"{stem}_truth.npy")
    central = slice(vol.shape[0] // 4, vol.shape[0] - vol.shape[0] // 4)
    return {"seconds_per_iteration": per, "iterations": iterations, "rmse": rmse(vol, truth),
            "rmse_central": rmse(vol[central], truth[central])}


def iterative(args, work, stem):
    """The iterative rows: roboct's bench (OS-SART, FISTA-TV), its CGLS, RTK's SART and CG."""
    out = work / "roboct_iterative.json"
    cmd = [str(args.roboct), "bench", "recon", "--problem", "iterative", "--scale", str(args.scale),
           "--repeat", "1", "--iterations", f"{args.iterations},{args.fista_iterations}",
           "--save", str(work), "--json", str(out), "--quiet"]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    ours = {r["method"]: r for r in json.loads(out.read_text())}
    cgls = roboct_cgls(args.roboct, work, stem, args.iterations)
    rows = []
    for label, peer_method, mine in [("SART / OS-SART, 10 subsets", "sart", ours["os-sart"]),
                                     ("CG / CGLS", "cg", cgls)]:
        print(f"RTK {peer_method}: {args.rtk_iterations} iterations ...", flush=True)
        peer = rtk_iterative(work, stem, peer_method, args.rtk_iterations, 10)
        mine_row = {"seconds_per_iteration": mine["seconds_per_iteration"], "iterations": mine["iterations"],
                    "rmse": mine.get("rmse", mine.get("rmse_per_mm")),
                    "rmse_central": mine.get("rmse_central", mine.get("rmse_central_per_mm"))}
        rows.append((label, peer, mine_row))
    fista = ours["fista-tv"]
    print()
    # "RTK/roboct": RTK's time per iteration over roboct's.
    print(f"{'method':28} {'tool':8} {'iter':>5} {'s/iter':>9} {'total s':>9} {'RMSE /mm':>10} {'central':>10}"
          f" {'RTK/roboct':>11}")
    for label, peer, mine in rows:
        ratio = peer["seconds_per_iteration"] / mine["seconds_per_iteration"]
        for tool, r in (("RTK", peer), ("roboct", mine)):
            total = r["seconds_per_iteration"] * r["iterations"]
            print(f"{label:28} {tool:8} {r['iterations']:5d} {r['seconds_per_iteration']:9.2f} {total:9.1f}"
                  f" {r['rmse']:10.3e} {r['rmse_central']:10.3e} {(f'{ratio:.1f}x' if tool == 'roboct' else ''):>11}")
    print(f"{'FISTA-TV (no RTK peer)':28} {'roboct':8} {fista['iterations']:5d} {fista['seconds_per_iteration']:9.2f}"
          f" {fista['seconds_per_iteration'] * fista['iterations']:9.1f} {fista['rmse_per_mm']:10.3e}"
          f" {fista['rmse_central_per_mm']:10.3e}")
    print(f"Joseph pair: projection {fista['forward_steps_per_s']:.2e} ray steps/s, transpose "
          f"{fista['adjoint_steps_per_s']:.2e} ray steps/s ({fista['ray_steps']:.3e} steps per pass)")
    return [{"method": label, "rtk": peer, "roboct": mine} for label, peer, mine in rows] + [{"fista_tv": fista}]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--roboct", required=True)
    ap.add_argument("--work", default="out/compare")
    ap.add_argument("--scale", type=int, default=1, help="shrink both problems (quick look)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=["p2", "p3", "iterative"], help="run one problem")
    ap.add_argument("--iterations", type=int, default=10, help="roboct's OS-SART and CGLS iterations")
    ap.add_argument("--fista-iterations", type=int, default=20, help="roboct's FISTA-TV iterations")
    ap.add_argument("--rtk-iterations", type=int, default=2, help="RTK's SART and CG iterations (slow)")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    import itk  # noqa: F401  (report the thread count the peers use)
    threads = itk.MultiThreaderBase.GetGlobalDefaultNumberOfThreads()
    print(f"peers: scikit-image (numpy, 1 thread), RTK {itk.Version.GetITKVersion()} CPU with {threads} threads")
    rows = []
    stems = {"p2": "p2" if args.scale == 1 else f"p2_{args.scale}", "p3": "p3" if args.scale == 1 else f"p3_{args.scale}"}
    iterative_rows = None
    if args.only in (None, "iterative"):
        iterative_rows = iterative(args, work, stems["p3"])
    for problem in ["p2", "p3"]:
        if args.only and problem != args.only:
            continue
        ours = run_roboct(args.roboct, work, problem, args.scale, args.repeat)
        stem = stems[problem]
        if problem == "p2":
            secs, err, updates, vs_ours = skimage_p2(work, stem, args.repeat)
            rows.append((ours["problem"], "scikit-image iradon", secs, updates / secs, err, None, vs_ours))
        else:
            r = rtk_p3(work, stem, args.repeat)
            rows.append((ours["problem"], "RTK CPU FDK", r["seconds"], r["updates"] / r["seconds"], r["rmse"],
                         r["rmse_central"], r["vs_ours"]))
        rows.append((ours["problem"], "roboct", ours["best_s"], ours["voxel_updates_per_s"], ours["rmse_per_mm"],
                     ours["rmse_central_per_mm"], None))
    print()
    # "RMS vs roboct": how far the peer's image is from ours, voxel for voxel (1/mm).
    print(f"{'problem':8} {'tool':22} {'time s':>9} {'voxel-updates/s':>16} {'RMSE /mm':>10} {'central':>10}"
          f" {'RMS vs roboct':>14} {'peer/roboct':>12}")
    for i in range(0, len(rows), 2):
        peer, ours = rows[i], rows[i + 1]
        for r in (peer, ours):
            central = "" if r[5] is None else f"{r[5]:.3e}"
            diff = "" if r[6] is None else f"{r[6]:.2e}"
            ratio = f"{peer[2] / ours[2]:.1f}x" if r is ours else ""
            print(f"{r[0]:8} {r[1]:22} {r[2]:9.3f} {r[3]:16.3e} {r[4]:10.3e} {central:>10} {diff:>14} {ratio:>12}")
    (work / "comparison.json").write_text(json.dumps({"analytic": rows, "iterative": iterative_rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
