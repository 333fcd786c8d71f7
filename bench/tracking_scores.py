"""trackeval's scores of one tracker's output on a sequence: CLEAR, Identity and HOTA, and their sums."""

import shutil
from pathlib import Path

import numpy as np
from tracking_data import Seq, Tracked


def evaluate(seq: Seq, tracked: Tracked, work: Path) -> dict[str, dict]:
    """trackeval's per-sequence results for one tracker's output (its own loader and preprocessing)."""
    import trackeval

    gt_dir, out_dir = work / "gt" / seq.name / "gt", work / "trk" / "t" / "data"
    gt_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(seq.gt, gt_dir / "gt.txt")
    rows = [f"{f},{i},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},1,-1,-1,-1"
            for f, tracks in enumerate(tracked, 1) for i, x1, y1, x2, y2 in tracks]
    (out_dir / f"{seq.name}.txt").write_text("".join(r + "\n" for r in rows))
    dataset = trackeval.datasets.MotChallenge2DBox({
        "GT_FOLDER": str(work / "gt"), "TRACKERS_FOLDER": str(work / "trk"), "BENCHMARK": seq.benchmark,
        "SKIP_SPLIT_FOL": True, "SEQ_INFO": {seq.name: seq.frames}, "TRACKERS_TO_EVAL": ["t"], "PRINT_CONFIG": False,
    })
    data = dataset.get_preprocessed_seq_data(dataset.get_raw_seq_data("t", seq.name), "pedestrian")
    return {m.get_name(): m.eval_sequence(data) for m in metrics()}


def metrics() -> list:
    import trackeval

    cfg = {"PRINT_CONFIG": False}
    return [trackeval.metrics.CLEAR(cfg), trackeval.metrics.Identity(cfg), trackeval.metrics.HOTA(cfg)]


def combine(results: list[dict[str, dict]]) -> dict[str, dict]:
    """Several sequences' results as one, the way trackeval sums a benchmark."""
    return {m.get_name(): m.combine_sequences({str(k): r[m.get_name()] for k, r in enumerate(results)}) for m in metrics()}


def summary(res: dict[str, dict]) -> dict[str, float]:
    clear = res["CLEAR"]
    return {"MOTA": 100 * clear["MOTA"], "IDF1": 100 * res["Identity"]["IDF1"],
            "HOTA": 100 * float(np.mean(res["HOTA"]["HOTA"])), "IDSW": clear["IDSW"], "FP": clear["CLR_FP"],
            "FN": clear["CLR_FN"]}
