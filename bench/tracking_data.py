"""The tracking bench's sequences: files from PyPI fetched with pip, checked by sha256, cached, and read.

Also the shapes of what the bench's modules pass each other (boxes, tracks, stays), named once here.
"""

import configparser
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

Box = tuple[float, float, float, float, float]  # x1, y1, x2, y2, score
Frames = list[list[Box]]  # the detections of each frame, first frame first
Tracked = list[list[tuple[int, float, float, float, float]]]  # per frame: (id, x1, y1, x2, y2)
Stay = tuple[str, float, float]  # zone, entered, left: seconds from the first frame
Truth = dict[int, list[tuple[int, float, float, float, float]]]  # frame (1-based) -> (id, x1, y1, x2, y2)
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "forecourt" / "bench-tracking"


@dataclass(frozen=True)
class Source:
    """A file from PyPI, fetched with pip and checked against its sha256 before anything is unpacked."""

    requirement: str
    sdist: bool
    sha256: str
    keep: str  # the members unpacked: those under this prefix


MOT17_MINI = Source("boxmot==23.0.0", True, "47faa779b958ded21e2b9ce2331b6b00fccbd1500767f1c9b15848cc36e8ab0d",
                    "boxmot-23.0.0/assets/MOT17-mini/")
MOT15_GT = Source("motmetrics==1.4.0", False, "cd4d691bd787360f1cd0a2127fe8a14d0646fb2912b344a9498719e132b25738",
                  "motmetrics/data/")


@dataclass(frozen=True)
class Seq:
    name: str
    gt: Path
    fps: float
    frames: int
    size: tuple[int, int]
    benchmark: str  # trackeval's rules: "MOT17" or "MOT15"
    images: tuple[Path, ...] = ()


def fetch(src: Source, cache: Path) -> Path:
    dest = cache / src.requirement.replace("==", "-")
    if not (dest / ".complete").exists():
        with tempfile.TemporaryDirectory() as tmp:
            kind = ["--no-binary", ":all:"] if src.sdist else ["--only-binary", ":all:"]
            subprocess.run([sys.executable, "-m", "pip", "download", src.requirement, "--no-deps", "-q", *kind,
                            "-d", tmp], check=True, stdout=sys.stderr)
            (archive,) = Path(tmp).iterdir()
            digest = hashlib.sha256(archive.read_bytes()).hexdigest()
            if digest != src.sha256:
                raise SystemExit(f"{archive.name}: sha256 {digest}, expected {src.sha256} (bench/data/README.md)")
            if src.sdist:
                with tarfile.open(archive) as tar:
                    tar.extractall(dest, [m for m in tar.getmembers() if m.name.startswith(src.keep)], filter="data")
            else:
                with zipfile.ZipFile(archive) as wheel:
                    wheel.extractall(dest, [n for n in wheel.namelist() if n.startswith(src.keep)])
        (dest / ".complete").touch()
    return dest / src.keep


def real_sequences(cache: Path) -> list[Seq]:
    root, out = fetch(MOT17_MINI, cache) / "train", []
    for folder in ("MOT17-02-FRCNN", "MOT17-04-FRCNN"):
        info = configparser.ConfigParser()
        info.read(root / folder / "seqinfo.ini")
        s = info["Sequence"]
        images = tuple(sorted((root / folder / "img1").glob("*.jpg")))
        out.append(Seq(folder.removesuffix("-FRCNN"), root / folder / "gt" / "gt.txt", float(s["frameRate"]),
                       len(images), (int(s["imWidth"]), int(s["imHeight"])), "MOT17", images))
    return out


def tud_sequences(cache: Path) -> list[Seq]:
    data = fetch(MOT15_GT, cache)
    seqs = [Seq(name, data / name / "gt.txt", 25.0, 0, (640, 480), "MOT15") for name in ("TUD-Campus", "TUD-Stadtmitte")]
    return [replace(s, frames=max(read_gt(s))) for s in seqs]


def read_gt(seq: Seq) -> Truth:
    """The people to find; under MOT17 rules only the considered pedestrians (flag 1, class 1)."""
    gt: Truth = {}
    for line in seq.gt.read_text().splitlines():
        v = line.split(",")
        if seq.benchmark == "MOT17" and (int(v[6]) != 1 or int(float(v[7])) != 1):
            continue
        f, i, x, y, w, h = (float(a) for a in v[:6])
        gt.setdefault(int(f), []).append((int(i), x, y, x + w, y + h))
    return gt
