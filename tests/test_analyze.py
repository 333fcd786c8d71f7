"""``forecourt analyze``: the summary maths, the output formats, and a real run on vtest.avi."""

import csv
import json
from pathlib import Path

import cv2
import pytest

from edge.events import Draft
from forecourt.cli import main
from forecourt.commands.analyze import percentile, summarise, write_events
from forecourt.protocol import EVENT_KINDS, format_epoch
from tests.drafting import draft
from tools.footage import read_frames

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / "examples" / "footage" / "vtest.avi"
CONFIG = ROOT / "examples" / "vtest-station.toml"


ROAD_DWELL = {"zone": "road", "object_class": "person", "track_id": 7, "entered_at": format_epoch(47.0),
              "exited_at": format_epoch(50.0), "dwell_s": 3.0}


def visit(greet: float | None, dwell: float, bay: str = "bay-1") -> Draft:
    arrived, stopped = 1000.0 - dwell, 1000.0 - dwell + 1
    return draft("visit", 1000.0, {
        "bay": bay, "arrived_at": format_epoch(arrived), "stopped_at": format_epoch(stopped),
        "greeted_at": None if greet is None else format_epoch(stopped + greet), "departed_at": format_epoch(1000.0),
        "greet_s": greet, "dwell_s": dwell,
    })


@pytest.mark.parametrize(("q", "want"), [(0, 1.0), (50, 2.5), (90, 3.7), (100, 4.0)])
def test_percentile_interpolates(q, want):
    assert percentile([4.0, 1.0, 3.0, 2.0], q) == pytest.approx(want)


def test_summary_counts_greets_within_each_bays_goal():
    drafts = [visit(10, 100), visit(50, 200), visit(None, 300), visit(20, 400, "bay-2")]
    lines = summarise(drafts, {"bay-1": 30.0, "bay-2": 15.0}, passes=2)
    assert lines[0] == "vehicles: 4 visits, 2 pass-throughs"
    assert lines[1] == "greeted: 3 of 4; greet p50 20.0 s, p90 44.0 s; within goal: 1/4 (25%)"
    assert lines[2] == "dwell p50 250.0 s, p90 370.0 s"


def test_csv_and_jsonl_have_one_row_per_event(tmp_path):
    drafts = [visit(10, 100), draft("zone", 50.0, ROAD_DWELL)]
    write_events(tmp_path / "e.csv", drafts)
    rows = list(csv.DictReader((tmp_path / "e.csv").open()))
    assert [(r["kind"], r["bay"], r["zone"]) for r in rows] == [("visit", "bay-1", ""), ("zone", "", "road")]
    write_events(tmp_path / "e.jsonl", drafts, source_fps=7.0)
    lines = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert lines[1] == {"kind": "zone", "at": format_epoch(50.0), **ROAD_DWELL, "source_fps": 7.0}


def test_analyze_vtest_end_to_end(tmp_path, capsys):
    out, video = tmp_path / "events.jsonl", tmp_path / "annotated.mp4"
    rc = main(["analyze", str(VIDEO), "--config", str(CONFIG), "--out", str(out), "--annotate", str(video),
               "--max-seconds", "16", "--start", "2026-11-23T08:00:00Z", "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "vehicles:" in printed and "zone road:" in printed
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    people = [r for r in rows if r["kind"] == "zone" and r["zone"] == "road" and r["object_class"] == "person"]
    assert len(people) >= 3
    for i, row in enumerate(rows):  # every record is a valid protocol event: times, ids, no pixels
        kind, at = row.pop("kind"), row.pop("at")
        EVENT_KINDS[kind](id=f"evt{i:09d}", seq=i + 1, station="vtest-demo", ts=at, kind=kind, **row)
        assert all(v is None or isinstance(v, str | int | float) for v in row.values())
    assert all("2026-11-23T08:00:" in r["entered_at"] for r in people)
    cap = cv2.VideoCapture(str(video))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 80  # 16 s at the config's 5 fps
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (576, 768, 3)


def _analyse(video: Path, out: Path, capsys, *extra: str) -> tuple[list[dict], str]:
    rc = main(["analyze", str(video), "--config", str(CONFIG), "--out", str(out), "--max-seconds", "12",
               "--start", "2026-11-23T08:00:00Z", "--no-progress", *extra])
    assert rc == 0
    return [json.loads(line) for line in out.read_text().splitlines()], capsys.readouterr().out


def _timing(rows: list[dict]) -> list[tuple]:
    return [(r["kind"], r.get("zone"), r.get("track_id"), r.get("entered_at"), r.get("exited_at"), r["dwell_s"])
            for r in rows]


def test_a_recording_whose_container_declares_the_wrong_rate_is_timed_right_with_source_fps(tmp_path, capsys):
    """The same real frames, losslessly re-wrapped in a container that says 25 frames/s: with --source-fps
    the records equal the original's to the millisecond; without it every duration shrinks."""
    copy = tmp_path / "says-25fps.avi"
    writer = cv2.VideoWriter(str(copy), cv2.VideoWriter_fourcc(*"FFV1"), 25.0, (768, 576))
    for _, image in read_frames(VIDEO, range(90)):  # 12.9 s at the footage's own 7 frames/s
        writer.write(image)
    writer.release()

    original, said = _analyse(VIDEO, tmp_path / "original.jsonl", capsys)
    assert "clock: 7 frames/s from camera.source_fps (the container declares 10)" in said
    fixed, said = _analyse(copy, tmp_path / "fixed.jsonl", capsys, "--source-fps", "7")
    assert "clock: 7 frames/s from --source-fps (the container declares 25)" in said
    wrong, said = _analyse(copy, tmp_path / "wrong.jsonl", capsys)
    assert "clock: 25 frames/s, as the file's container declares" in said

    assert len(original) >= 3 and _timing(fixed) == _timing(original)
    assert {r["source_fps"] for r in fixed} == {7.0}
    assert sum(r["dwell_s"] for r in wrong) < 0.5 * sum(r["dwell_s"] for r in original)


def test_analyze_refuses_a_missing_video_and_an_unknown_output_format(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "nope.avi"), "--config", str(CONFIG)]) == 1
    assert "no such video file" in capsys.readouterr().err
    assert main(["analyze", str(VIDEO), "--config", str(CONFIG), "--out", str(tmp_path / "e.txt")]) == 2
    assert "use a .jsonl or .csv" in capsys.readouterr().err
