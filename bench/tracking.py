"""Side-by-side tracker benchmark: Forecourt's tracker vs ByteTrack from Roboflow's ``trackers`` package.

    .venv/bin/python bench/tracking.py [--seeds 5] [--data DIR] [--no-video]

1. MOT15 ground truth shipped in the ``motmetrics`` wheel (TUD-Campus, TUD-Stadtmitte, 25 fps, 640x480).
   Detections are derived from the ground truth with seeded, realistic noise: missed boxes, box jitter,
   a quarter of the true boxes at low scores (partly hidden people), random false positives and two
   static ones per sequence (a post, a sign). Both trackers get identical detections; each row is the
   median over the seeds, scored by ``trackeval`` 1.3 with its MOT15 setting (MOTA, IDF1, ID switches).
2. ``examples/footage/vtest.avi`` at 10 fps (its own rate) and 5 fps (the edge's default analysis rate)
   with the default detector (detections computed once, fed to
   both trackers): confirmed tracks, tracks lasting >= 2 s, and likely ID switches (a track ending and
   another starting within 2 s and one body height of it). No ground truth exists for this clip.

Baseline: ``supervision`` 0.31 removed ``sv.ByteTrack``; its maintained successor is Roboflow's
``trackers`` package (``ByteTrackTracker``), which runs on numpy 2 in the project's own venv, so both
trackers see identical inputs in one process. ``motmetrics`` 1.4 breaks on numpy 2 (``np.asfarray``), so
only its data files are used: from an installed copy, or its wheel fetched with ``pip download``.

The issue named supervision's own ByteTrack: for those rows (and a motmetrics cross-check of our
scores), make a separate numpy-1 venv - they cannot live in the product's numpy-2 venv:

    python3 -m venv /tmp/svbench && /tmp/svbench/bin/pip install supervision==0.30.9 motmetrics==1.4.0 "numpy<2"
    .venv/bin/python bench/tracking.py --supervision-python /tmp/svbench/bin/python
"""

import argparse
import importlib.util
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.vision.detection import Detection  # noqa: E402
from edge.vision.tracker import Tracker  # noqa: E402

SEQUENCES = {"TUD-Campus": 25.0, "TUD-Stadtmitte": 25.0}
SIZE = (640, 480)
Boxes = dict[int, list[tuple[float, float, float, float, float]]]  # frame -> [(x1, y1, x2, y2, score)]
Tracked = dict[int, list[tuple[int, float, float, float, float]]]  # frame -> [(id, x1, y1, x2, y2)]


def motmetrics_data(explicit: str | None) -> Path:
    """The folder holding TUD-Campus/gt.txt: --data, an installed motmetrics, or its wheel from PyPI."""
    if explicit:
        return Path(explicit)
    spec = importlib.util.find_spec("motmetrics")
    if spec and spec.origin:
        return Path(spec.origin).parent / "data"
    cache = Path.home() / ".cache" / "forecourt" / "motmetrics"
    if not (cache / "motmetrics" / "data").is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "motmetrics==1.4.0", "--no-deps", "-q",
                        "-d", str(cache)], check=True)
        with zipfile.ZipFile(next(cache.glob("motmetrics-*.whl"))) as wheel:
            wheel.extractall(cache, [n for n in wheel.namelist() if n.startswith("motmetrics/data/")])
    return cache / "motmetrics" / "data"


def read_gt(path: Path) -> dict[int, list[tuple[int, float, float, float, float]]]:
    gt: dict[int, list[tuple[int, float, float, float, float]]] = {}
    for line in path.read_text().splitlines():
        f, i, x, y, w, h = (float(v) for v in line.split(",")[:6])
        gt.setdefault(int(f), []).append((int(i), x, y, x + w, y + h))
    return gt


def noisy_detections(gt: dict, frames: int, seed: int) -> Boxes:
    """Seeded detector-like noise on ground-truth boxes."""
    rng = random.Random(seed)
    statics = [(rng.uniform(50, 550), rng.uniform(150, 300)) for _ in range(2)]
    out: Boxes = {}
    for f in range(1, frames + 1):
        dets = []
        for _, x1, y1, x2, y2 in gt.get(f, []):
            if rng.random() < 0.10:  # missed
                continue
            w, h = x2 - x1, y2 - y1
            cx, cy = (x1 + x2) / 2 + rng.gauss(0, 0.04 * w), (y1 + y2) / 2 + rng.gauss(0, 0.03 * h)
            w, h = w * np.exp(rng.gauss(0, 0.06)), h * np.exp(rng.gauss(0, 0.04))
            score = rng.uniform(0.55, 0.95) if rng.random() < 0.75 else rng.uniform(0.15, 0.55)
            dets.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score))
        for _ in range(np.random.default_rng(seed * 1000 + f).poisson(0.8)):  # clutter
            w = rng.uniform(25, 80)
            x, y = rng.uniform(0, SIZE[0] - w), rng.uniform(0, SIZE[1] - 2.5 * w)
            dets.append((x, y, x + w, y + 2.5 * w, rng.uniform(0.1, 0.65)))
        for sx, sy in statics:  # a post or a sign the detector half believes is a person
            if rng.random() < 0.6:
                dets.append((sx, sy, sx + 30, sy + 80, rng.uniform(0.3, 0.65)))
        out[f] = dets
    return out


def run_ours(dets: Boxes, frames: int, fps: float) -> tuple[Tracked, float]:
    tracker, out, spent = Tracker(), {}, []
    for f in range(1, frames + 1):
        batch = [Detection(*d, "person") for d in dets.get(f, [])]
        start = time.perf_counter()
        tracks = tracker.update(batch, (f - 1) / fps)
        spent.append(time.perf_counter() - start)
        out[f] = [(t.id, t.x1, t.y1, t.x2, t.y2) for t in tracks]
    return out, statistics.median(spent) * 1000


def run_baseline(dets: Boxes, frames: int, fps: float) -> tuple[Tracked, float]:
    import supervision as sv
    from trackers import ByteTrackTracker

    tracker, out, spent = ByteTrackTracker(frame_rate=fps), {}, []
    for f in range(1, frames + 1):
        arr = np.array(dets.get(f, []), float).reshape(-1, 5)
        batch = sv.Detections(xyxy=arr[:, :4], confidence=arr[:, 4], class_id=np.zeros(len(arr), int))
        start = time.perf_counter()
        res = tracker.update(batch)
        spent.append(time.perf_counter() - start)
        out[f] = [(int(i), *map(float, b)) for i, b in zip(res.tracker_id, res.xyxy, strict=True) if i >= 0]
    return out, statistics.median(spent) * 1000


def score(gt_file: Path, seq: str, frames: int, tracked: Tracked, work: Path) -> dict[str, float]:
    """MOTA, IDF1 and ID switches by trackeval's MOT15 setting (its own loader and preprocessing)."""
    import trackeval

    (work / "gt" / seq / "gt").mkdir(parents=True, exist_ok=True)
    (work / "gt" / seq / "gt" / "gt.txt").write_text(gt_file.read_text())
    data_dir = work / "trk" / "t" / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    tracks_file(tracked, data_dir / f"{seq}.txt")
    dataset = trackeval.datasets.MotChallenge2DBox({
        "GT_FOLDER": str(work / "gt"), "TRACKERS_FOLDER": str(work / "trk"), "BENCHMARK": "MOT15",
        "SKIP_SPLIT_FOL": True, "SEQ_INFO": {seq: frames}, "TRACKERS_TO_EVAL": ["t"], "PRINT_CONFIG": False,
    })
    data = dataset.get_preprocessed_seq_data(dataset.get_raw_seq_data("t", seq), "pedestrian")
    clear = trackeval.metrics.CLEAR({"PRINT_CONFIG": False}).eval_sequence(data)
    ident = trackeval.metrics.Identity({"PRINT_CONFIG": False}).eval_sequence(data)
    return {"MOTA": 100 * clear["MOTA"], "IDF1": 100 * ident["IDF1"], "IDSW": clear["IDSW"]}


def video_detections(path: Path, fps: float) -> list[tuple[float, list[Detection]]]:
    import cv2

    from edge.vision.detector import Detector

    detector, cap, out, i = Detector(), cv2.VideoCapture(str(path)), [], 0
    src = cap.get(cv2.CAP_PROP_FPS) or fps
    step = max(1, round(src / fps))
    while True:
        ok, image = cap.read()
        if not ok:
            break
        if i % step == 0:
            out.append((i / src, detector.detect(image)))
        i += 1
    cap.release()
    return out


def track_stats(frames: list[tuple[float, list[Detection]]], update: Callable) -> dict[str, float]:
    spans: dict[int, list[float]] = {}
    ends: dict[int, tuple[float, float, float, float]] = {}  # id -> (t, x, y, h) at its last sighting
    starts: dict[int, tuple[float, float, float]] = {}
    spent = []
    for now, dets in frames:
        start = time.perf_counter()
        tracks = update(dets, now)
        spent.append(time.perf_counter() - start)
        for tid, x1, y1, x2, y2 in tracks:
            spans.setdefault(tid, [now, now])[1] = now
            starts.setdefault(tid, (now, (x1 + x2) / 2, y2))
            ends[tid] = (now, (x1 + x2) / 2, y2, y2 - y1)
    switches = 0
    for tid, (t0, x, y) in starts.items():
        if any(o != tid and 0 < t0 - te <= 2.0 and np.hypot(x - xe, y - ye) <= h
               for o, (te, xe, ye, h) in ends.items()):
            switches += 1
    return {"tracks": len(spans), "tracks_2s": sum(1 for a, b in spans.values() if b - a >= 2.0),
            "switches": switches, "ms": statistics.median(spent) * 1000}


SV_SCRIPT = """
import json, sys
import numpy as np
jobs, out = json.load(sys.stdin), []
for job in jobs:
    if job["do"] == "track":
        import time
        import supervision as sv
        bt = sv.ByteTrack(frame_rate=job["fps"], **job["params"])
        frames, spent = [], []
        for dets in job["frames"]:
            arr = np.array(dets, float).reshape(-1, 5)
            d = sv.Detections(xyxy=arr[:, :4], confidence=arr[:, 4], class_id=np.zeros(len(arr), int))
            t0 = time.perf_counter()
            r = bt.update_with_detections(d)
            spent.append(time.perf_counter() - t0)
            frames.append([[int(i), *map(float, b)] for i, b in zip(r.tracker_id, r.xyxy)])
        out.append({"frames": frames, "ms": 1000 * float(np.median(spent))})
    else:
        import motmetrics as mm
        gt = mm.io.loadtxt(job["gt"], fmt="mot15-2D", min_confidence=1)
        ts = mm.io.loadtxt(job["tracks"], fmt="mot15-2D")
        acc = mm.utils.compare_to_groundtruth(gt, ts, "iou", distth=0.5)
        m = mm.metrics.create().compute(acc, metrics=["mota", "idf1", "num_switches"], name="x")
        out.append({"MOTA": 100 * float(m["mota"].iloc[0]), "IDF1": 100 * float(m["idf1"].iloc[0]),
                    "IDSW": float(m["num_switches"].iloc[0])})
json.dump(out, sys.stdout)
"""
SV_SETTINGS = {"sv ByteTrack": {}, "sv ByteTrack @0.6": {"track_activation_threshold": 0.6}}


def isolated(python: str, jobs: list[dict]) -> list[dict]:
    """Run supervision 0.30.9 / motmetrics jobs in their own (numpy 1.x) interpreter."""
    done = subprocess.run([python, "-W", "ignore", "-c", SV_SCRIPT], input=json.dumps(jobs), capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


def tracks_file(tracked: Tracked, path: Path) -> Path:
    rows = [f"{f},{i},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},1,-1,-1,-1"
            for f, tracks in sorted(tracked.items()) for i, x1, y1, x2, y2 in tracks]
    path.write_text("\n".join(rows) + "\n")
    return path


def vtest_rows(fps: float, sv_python: str | None) -> list[tuple[str, dict[str, float]]]:
    import supervision as sv
    from trackers import ByteTrackTracker

    frames = video_detections(ROOT / "examples" / "footage" / "vtest.avi", fps)
    people = [(t, [d for d in dets if d.label == "person"]) for t, dets in frames]
    ours = Tracker()

    def our_update(dets, now):
        return [(t.id, *t.box) for t in ours.update(dets, now)]

    base = ByteTrackTracker(frame_rate=fps)

    def base_update(dets, now):
        arr = np.array([(*d.box, d.score) for d in dets], float).reshape(-1, 5)
        res = base.update(sv.Detections(xyxy=arr[:, :4], confidence=arr[:, 4], class_id=np.zeros(len(arr), int)))
        return [(int(i), *map(float, b)) for i, b in zip(res.tracker_id, res.xyxy, strict=True) if i >= 0]

    rows = [("forecourt", track_stats(people, our_update)), ("trackers ByteTrack", track_stats(people, base_update))]
    if sv_python:
        boxes = [[[*d.box, d.score] for d in dets] for _, dets in people]
        jobs = [{"do": "track", "fps": fps, "params": p, "frames": boxes} for p in SV_SETTINGS.values()]
        for name, res in zip(SV_SETTINGS, isolated(sv_python, jobs), strict=True):
            replay = iter(res["frames"])
            rows.append((name, {**track_stats(people, lambda _d, _n, r=replay: [tuple(x) for x in next(r)]),
                                "ms": res["ms"]}))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="noise seeds per sequence (rows are medians)")
    parser.add_argument("--first-seed", type=int, default=0, help="first noise seed (tuning used 0-9, 10-19 held out)")
    parser.add_argument("--data", help="folder with TUD-Campus/gt.txt (default: motmetrics' data)")
    parser.add_argument("--no-video", action="store_true", help="skip the vtest.avi rows")
    parser.add_argument("--supervision-python", metavar="PYTHON",
                        help="interpreter of an isolated venv with supervision==0.30.9 and motmetrics==1.4.0 "
                             "(numpy<2): adds sv.ByteTrack rows and cross-checks our scores with motmetrics")
    args = parser.parse_args()
    from importlib.metadata import version

    data = motmetrics_data(args.data)
    sv = args.supervision_python
    print(f"baseline: trackers {version('trackers')} ByteTrackTracker (defaults, frame_rate set)"
          + ("; supervision 0.30.9 sv.ByteTrack (defaults, and activation 0.6) in an isolated venv" if sv else "")
          + f"\nnoise seeds {args.first_seed}..{args.first_seed + args.seeds - 1}; scored with trackeval 1.3 (MOT15); rows are medians over seeds\n")
    print(f"{'sequence':<16}{'tracker':<22}{'MOTA':>7}{'IDF1':>7}{'IDSW':>6}{'ms/frame':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for seq, fps in SEQUENCES.items():
            gt_file = data / seq / "gt.txt"
            gt = read_gt(gt_file)
            frames = max(gt)
            results: dict[str, list[dict[str, float]]] = {}
            checks = []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                dets = noisy_detections(gt, frames, seed)
                runs = {"forecourt": run_ours(dets, frames, fps), "trackers ByteTrack": run_baseline(dets, frames, fps)}
                if sv:
                    boxes = [dets.get(f, []) for f in range(1, frames + 1)]
                    jobs = [{"do": "track", "fps": fps, "params": p, "frames": boxes} for p in SV_SETTINGS.values()]
                    for name, res in zip(SV_SETTINGS, isolated(sv, jobs), strict=True):
                        runs[name] = ({f + 1: [tuple(x) for x in tr] for f, tr in enumerate(res["frames"])}, res["ms"])
                for name, (tracked, ms) in runs.items():
                    work = Path(tmp) / f"{seq}-{seed}-{name.replace(' ', '_')}"
                    results.setdefault(name, []).append({**score(gt_file, seq, frames, tracked, work), "ms": ms})
                if sv:
                    checks.append({"do": "score", "gt": str(gt_file),
                                   "tracks": str(tracks_file(runs["forecourt"][0], Path(tmp) / f"{seq}-{seed}.txt"))})
            if checks:
                results["forecourt (motmetrics)"] = [{**r, "ms": float("nan")} for r in isolated(sv, checks)]
            for name, runs_ in results.items():
                med = {k: statistics.median(r[k] for r in runs_) for k in runs_[0]}
                print(f"{seq:<16}{name:<22}{med['MOTA']:7.1f}{med['IDF1']:7.1f}{med['IDSW']:6.0f}{med['ms']:10.2f}")
    if args.no_video:
        return
    print(f"\n{'vtest.avi, persons':<20}{'tracker':<22}{'tracks':>7}{'>=2 s':>7}{'switches':>9}{'ms/frame':>10}")
    for fps in (10.0, 5.0):
        for name, st in vtest_rows(fps, sv):
            print(f"{f'{fps:g} fps, default det':<20}{name:<22}{st['tracks']:7d}{st['tracks_2s']:7d}"
                  f"{st['switches']:9d}{st['ms']:10.2f}")


if __name__ == "__main__":
    main()
