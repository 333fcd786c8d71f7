"""The public trackers Forecourt is compared with, at their defaults, told the frame rate and the timestamps.

Roboflow's ``trackers`` run in this process; BoxMOT needs torch, so ``BOXMOT_JOB`` runs in a venv of its own
(``tracking_runs.isolated``).
"""

import statistics
import time
from collections.abc import Callable

import numpy as np
from tracking_data import Frames


def roboflow(make: Callable[[float], object]) -> Callable[[Frames, float], dict]:
    def run(frames: Frames, fps: float) -> dict:
        import supervision as sv

        tracker, out, spent = make(fps), [], []
        for i, boxes in enumerate(frames):
            arr = np.array(boxes, float).reshape(-1, 5)
            dets = sv.Detections(xyxy=arr[:, :4], confidence=arr[:, 4], class_id=np.zeros(len(arr), int))
            start = time.perf_counter()
            res = tracker.update(dets, timestamp=i / fps)
            spent.append(time.perf_counter() - start)
            out.append([(int(t), *map(float, b)) for t, b in zip(res.tracker_id, res.xyxy, strict=True) if t >= 0])
        return {"tracks": out, "ms": 1000 * statistics.median(spent)}
    return run


def baselines() -> dict[str, Callable[[Frames, float], dict]]:
    from trackers import BoTSORTTracker, ByteTrackTracker, McByteTracker, OCSORTTracker

    return {
        "trackers ByteTrack": roboflow(lambda fps: ByteTrackTracker(frame_rate=fps)),
        "trackers OC-SORT": roboflow(lambda fps: OCSORTTracker(frame_rate=fps)),
        "trackers BoT-SORT": roboflow(lambda fps: BoTSORTTracker(frame_rate=fps, enable_cmc=False)),
        "trackers McByte": roboflow(lambda fps: McByteTracker(frame_rate=fps, enable_cmc=False)),
    }


BOXMOT_JOB = """
import json, sys, time
import numpy as np
from boxmot import BotSort, ByteTrack, OcSort
makers = {"BoxMOT ByteTrack": lambda fps: ByteTrack(frame_rate=round(fps)), "BoxMOT OC-SORT": lambda fps: OcSort(),
          "BoxMOT BoT-SORT": lambda fps: BotSort(frame_rate=round(fps), use_embeddings=False, use_cmc=False)}
out = []
for job in json.load(open(sys.argv[1])):
    blank, runs = np.zeros((job["size"][1], job["size"][0], 3), np.uint8), {}
    for name, make in makers.items():
        tracker, frames, spent = make(job["fps"]), [], []
        for boxes in job["frames"]:
            dets = np.array([[*b, 0] for b in boxes], float).reshape(-1, 6)
            t0 = time.perf_counter()
            res = tracker.update(dets, blank)
            spent.append(time.perf_counter() - t0)
            frames.append([[int(r[4]), *map(float, r[:4])] for r in res])
        runs[name] = {"tracks": frames, "ms": 1000 * float(np.median(spent))}
    out.append(runs)
json.dump(out, open(sys.argv[2], "w"))
"""
