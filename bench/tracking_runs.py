"""Every tracker on every job's detections, some in another interpreter: another tree's code, BoxMOT's venv.

A job is one sequence's detections with its frame rate, size, pictures and zones, as plain JSON so that it
crosses to another process unchanged.
"""

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from tracking_baselines import BOXMOT_JOB, baselines
from tracking_forecourt import forecourt, scene_stays
from tracking_tree import HERE


def isolated(cmd: list[str], jobs: list[dict], env: dict | None = None) -> list[dict]:
    """Run jobs in another interpreter (another venv, or another tree's code): JSON file in, JSON file out."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "jobs.json", Path(tmp) / "runs.json"
        src.write_text(json.dumps(jobs))
        subprocess.run([*cmd, str(src), str(dst)], check=True, stdout=sys.stderr, env=env)
        return json.loads(dst.read_text())


def forecourt_at(rev: str, jobs: list[dict]) -> list[dict]:
    """Forecourt's rows for the code at ``rev``: that tree's edge/, forecourt/, models/ and station example."""
    with tempfile.TemporaryDirectory() as tree:
        tar = subprocess.run(["git", "-C", str(HERE.parent), "archive", rev, "edge", "forecourt", "models",
                              "examples/station.toml"], capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            archive.extractall(tree, filter="data")
        return isolated([sys.executable, str(HERE / "tracking.py"), "--job"], jobs, {**os.environ, "FORECOURT_TREE": tree})


def run_all(jobs: list[dict], *, forecourt_ref: str | None = None,
            boxmot_python: str | None = None) -> list[dict[str, dict]]:
    """Every tracker on every job's detections: job -> tracker name -> {"tracks", "stays", "ms"}."""
    runs = [{"forecourt": forecourt(j["frames"], j["fps"], j["size"], j["images"], j["zones"])} for j in jobs]
    if forecourt_ref:
        label = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", forecourt_ref],
                               capture_output=True, text=True, check=True).stdout.strip()
        for r, res in zip(runs, forecourt_at(forecourt_ref, jobs), strict=True):
            r[f"forecourt @{label}"] = res
    for name, run in baselines().items():
        for r, j in zip(runs, jobs, strict=True):
            r[name] = run(j["frames"], j["fps"])
    if boxmot_python:
        for r, res in zip(runs, isolated([boxmot_python, "-W", "ignore", "-c", BOXMOT_JOB], jobs), strict=True):
            r.update(res)
    for r, j in zip(runs, jobs, strict=True):
        for res in r.values():
            res.setdefault("stays", scene_stays(res["tracks"], j["fps"], j["zones"]) if j["zones"] else [])
    return runs
