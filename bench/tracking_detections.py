"""The detections every tracker is fed: the shipped detector's on real pictures (cached), or synthetic noise.

Detecting once and replaying the boxes keeps the comparison about tracking: each tracker sees the same boxes.
"""

import hashlib
import json
import random
from pathlib import Path

import numpy as np
from tracking_data import Box, Frames, Seq, Truth
from tracking_tree import ROOT

from edge.config import load_station_config


def noisy_detections(gt: Truth, seq: Seq, seed: int) -> Frames:
    """Seeded detector-like noise on ground-truth boxes."""
    rng = random.Random(seed)
    statics = [(rng.uniform(50, 550), rng.uniform(150, 300)) for _ in range(2)]
    out: Frames = []
    for f in range(1, seq.frames + 1):
        dets: list[Box] = []
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
            x, y = rng.uniform(0, seq.size[0] - w), rng.uniform(0, seq.size[1] - 2.5 * w)
            dets.append((x, y, x + w, y + 2.5 * w, rng.uniform(0.1, 0.65)))
        for sx, sy in statics:  # a post or a sign the detector half believes is a person
            if rng.random() < 0.6:
                dets.append((sx, sy, sx + 30, sy + 80, rng.uniform(0.3, 0.65)))
        out.append(dets)
    return out


def detect(seq: Seq, cache: Path) -> Frames:
    """Persons found by the shipped detector in each picture; cached by model, settings and sequence."""
    import cv2

    from edge.vision.detector import Detector, resolve_model

    cfg = load_station_config(ROOT / "examples" / "station.toml").detector
    key = hashlib.sha256(resolve_model(cfg).read_bytes() + cfg.model_dump_json().encode()).hexdigest()[:12]
    path = cache / "detections" / f"{seq.name}-{key}.json"
    if path.exists():
        return [[tuple(b) for b in f] for f in json.loads(path.read_text())]
    with Detector(cfg) as detector:
        frames = [[(*d.box, d.score) for d in detector.detect(cv2.imread(str(p))) if d.label == "person"]
                  for p in seq.images]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(frames))
    return frames
