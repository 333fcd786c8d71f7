"""Measure pump-bay visits and zone dwells in a recorded video with the station's own zones, detector and
tracker, exactly as the live service would. Writes the events as JSON lines (or CSV), prints a summary
(vehicles, greet and dwell percentiles, share greeted within the goal) and can draw an annotated copy
of the video to check the numbers by eye."""

import argparse
import csv
import json
import math
import os
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from forecourt.errors import ConfigError
from forecourt.protocol import VisitBody, ZoneDwellBody

FIELDS = [
    "kind", "at", "bay", "zone", "object_class", "track_id", "arrived_at", "stopped_at", "greeted_at",
    "departed_at", "greet_s", "dwell_s", "entered_at", "exited_at", "merged_gaps", "occluded_s", "min_fps",
    "source_fps",
]


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="video file to analyse")
    parser.add_argument("--config", required=True, metavar="FILE", help="station config (TOML) with the zones")
    parser.add_argument("--out", metavar="FILE", help="write events here: .jsonl (JSON lines) or .csv")
    parser.add_argument("--annotate", metavar="OUT.mp4", help="also write a video with zones, tracks and timers")
    parser.add_argument("--fps", type=float, help="analysis rate (default: the config's camera fps, else 5)")
    parser.add_argument("--source-fps", type=float, metavar="FPS",
                        help="the recording's true frame rate when its container declares a wrong one "
                             "(default: the config's camera.source_fps, else the container's)")
    parser.add_argument("--start", metavar="TIME",
                        help="wall time of the first frame, ISO 8601 (default: the file's modification time)")
    parser.add_argument("--max-seconds", type=float, metavar="S", help="analyse only the first S seconds")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_start(text: str | None, video: Path) -> float:
    if text is None:
        return os.path.getmtime(video)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--start: {text!r} is not an ISO 8601 time like 2026-11-23T08:00:00Z") from None
    return when.timestamp() if when.tzinfo else when.astimezone().timestamp()


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarise(drafts: list[Any], goals: dict[str, float], passes: int) -> list[str]:
    visits = [d.body for d in drafts if isinstance(d.body, VisitBody)]
    greets = [v.greet_s for v in visits if v.greet_s is not None]
    within = sum(1 for v in visits if v.greet_s is not None and v.greet_s <= goals.get(v.bay, 60.0))

    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} s"

    lines = [
        f"vehicles: {len(visits)} visits, {passes} pass-throughs",
        f"greeted: {len(greets)} of {len(visits)}; greet p50 {secs(percentile(greets, 50))}, "
        f"p90 {secs(percentile(greets, 90))}; within goal: "
        + (f"{within}/{len(visits)} ({100 * within / len(visits):.0f}%)" if visits else "-"),
        f"dwell p50 {secs(percentile([v.dwell_s for v in visits], 50))}, "
        f"p90 {secs(percentile([v.dwell_s for v in visits], 90))}",
    ]
    dwells = [d.body for d in drafts if isinstance(d.body, ZoneDwellBody)]
    for (zone, cls), n in sorted(Counter((d.zone, d.object_class) for d in dwells).items()):
        times = [d.dwell_s for d in dwells if d.zone == zone and d.object_class == cls]
        lines.append(f"zone {zone}: {n} {cls} dwells, p50 {secs(percentile(times, 50))}, max {secs(max(times))}")
    return lines


def _configured_source_fps(camera: Any, video: Path) -> float | None:
    """``camera.source_fps`` describes ``camera.source``: it applies only when that is the file analysed."""
    if camera is None or camera.source_fps is None:
        return None
    try:
        return camera.source_fps if Path(camera.source).resolve() == video.resolve() else None
    except OSError:
        return None


def clock_line(used: float, declared: float, given_by: str | None) -> str:
    """Which clock the results run on: a wrong one makes every duration wrong by the same factor."""
    if given_by is None:
        return f"clock: {used:g} frames/s, as the file's container declares"
    note = f"the container declares {declared:g}" if declared else "the container declares no rate"
    return f"clock: {used:g} frames/s from {given_by} ({note})"


def write_events(path: Path, drafts: list[Any], *, source_fps: float | None = None) -> None:
    """One row per event; each carries the clock (``source_fps``) its times were measured on."""
    from forecourt.protocol import format_epoch

    rows = [{"kind": d.kind, "at": format_epoch(d.at), **d.fields, "source_fps": source_fps} for d in drafts]
    with path.open("w", newline="") as f:
        if path.suffix.lower() == ".csv":
            writer = csv.DictWriter(f, FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        else:
            for row in rows:
                f.write(json.dumps(row) + "\n")


def run(args: argparse.Namespace) -> int:
    import cv2

    from edge.config import CameraConfig, load_station_config
    from edge.events import ListSink
    from edge.vision.annotate import VideoWriter, draw
    from edge.vision.camera import Camera
    from edge.vision.pipeline import Pipeline

    video = Path(args.video)
    if not video.is_file():
        print(f"error: {video}: no such video file", file=sys.stderr)
        return 1
    if args.out and Path(args.out).suffix.lower() not in (".jsonl", ".json", ".csv"):
        print(f"error: --out {args.out}: use a .jsonl or .csv file name", file=sys.stderr)
        return 2
    config = load_station_config(args.config)
    fps = args.fps or (config.camera.fps if config.camera else 5.0)
    start = parse_start(args.start, video)
    if args.source_fps is not None and not 0 < args.source_fps <= 240:
        print(f"error: --source-fps {args.source_fps:g}: give the recording's frame rate, 0 < FPS <= 240", file=sys.stderr)
        return 2
    probe = cv2.VideoCapture(str(video))
    declared, src_frames = probe.get(cv2.CAP_PROP_FPS) or 0.0, probe.get(cv2.CAP_PROP_FRAME_COUNT) or 0
    probe.release()
    given = args.source_fps or _configured_source_fps(config.camera, video)
    src_fps = given or declared or fps
    print(clock_line(src_fps, declared, "--source-fps" if args.source_fps else "camera.source_fps" if given else None))
    seconds = src_frames / src_fps if src_frames > 0 else None
    if args.max_seconds is not None:
        seconds = min(seconds or args.max_seconds, args.max_seconds)
    camera = Camera(CameraConfig(source=str(video), fps=fps, source_fps=src_fps), realtime=False, wall=lambda: start)
    frames = (f for f in camera if args.max_seconds is None or f.ts - start < args.max_seconds)

    from tqdm import tqdm

    total = math.ceil(seconds * min(fps, src_fps)) if seconds else None
    bar = tqdm(total=total, unit="frame", disable=args.no_progress, file=sys.stderr)
    writer = VideoWriter(args.annotate, min(fps, src_fps)) if args.annotate else None
    sink = ListSink()
    pipeline: Pipeline

    def on_frame(frame: Any, tracks: Any, _drafts: Any) -> None:
        bar.update(1)
        if writer is not None:
            writer.write(draw(frame.image, tracks, frame.ts, zones=pipeline.scene.zones,
                              bays=pipeline.scene.bays, lost=pipeline.tracker.lost()))

    pipeline = Pipeline.from_config(config, sink, frames=frames, on_frame=on_frame)
    try:
        pipeline.run()
    finally:
        bar.close()
        camera.close()
        if writer is not None:
            writer.close()
    stats = pipeline.stats()
    goals = {z.id: z.greet_goal_s for z in config.zones if z.kind == "pump_bay"}
    print(f"{video.name}: {stats['frames']} frames at {fps:g} fps "
          f"({stats['frames_skipped']} without motion), {stats['fps']:.1f} frames/s analysed")
    for line in summarise(sink.drafts, goals, pipeline.scene.passes):
        print(line)
    if args.out:
        write_events(Path(args.out), sink.drafts, source_fps=src_fps)
        print(f"wrote {len(sink.drafts)} events to {args.out}")
    if writer is not None:
        print(f"wrote {writer.frames} annotated frames to {args.annotate}")
    return 0
