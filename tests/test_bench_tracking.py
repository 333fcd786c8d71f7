"""bench/tracking.py's scoring can fail: a perfect tracker scores 100, swapped ids lose IDF1, stays match by time."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))  # the bench's modules import each other by name

from tracking_data import Seq  # noqa: E402
from tracking_dwell import dwell_summary, match_stays, true_stays  # noqa: E402
from tracking_forecourt import forecourt, scene_stays  # noqa: E402
from tracking_scores import combine, evaluate, summary  # noqa: E402

FPS = 10.0
ZONE = {"id": "middle", "polygon": [[205, 0], [405, 0], [405, 300], [205, 300]]}


def walkers(frames: int = 20, step: float = 20) -> dict[int, list[tuple[int, float, float, float, float]]]:
    """Two people 150 px apart walking right ``step`` px per frame, boxes 40x100."""
    return {f: [(i, step * f + dx, 150, step * f + dx + 40, 250) for i, dx in ((1, 0), (2, 150))]
            for f in range(1, frames + 1)}


@pytest.fixture
def seq(tmp_path: Path):
    gt = tmp_path / "gt.txt"
    gt.write_text("".join(f"{f},{i},{x1},{y1},{x2 - x1},{y2 - y1},1,-1,-1,-1\n"
                          for f, boxes in walkers().items() for i, x1, y1, x2, y2 in boxes))
    return Seq("walk", gt, FPS, 20, (640, 480), "MOT15")


def as_tracked(truth, swap_after: int | None = None) -> list:
    out = []
    for f in sorted(truth):
        swap = swap_after is not None and f > swap_after
        out.append([(3 - i if swap else i, x1, y1, x2, y2) for i, x1, y1, x2, y2 in truth[f]])
    return out


def test_a_perfect_tracker_scores_100(seq, tmp_path):
    s = summary(evaluate(seq, as_tracked(walkers()), tmp_path / "run"))
    assert (s["MOTA"], s["IDF1"], s["IDSW"], s["FP"], s["FN"]) == (100.0, 100.0, 0, 0, 0)
    assert s["HOTA"] == pytest.approx(100.0)


def test_swapped_ids_lose_idf1_not_detection(seq, tmp_path):
    s = summary(evaluate(seq, as_tracked(walkers(), swap_after=10), tmp_path / "run"))
    assert s["IDSW"] == 2 and (s["FP"], s["FN"]) == (0, 0)
    assert s["IDF1"] == pytest.approx(50.0) and s["MOTA"] < 100 and s["HOTA"] < 100


def test_missing_frames_count_as_misses_and_sequences_combine(seq, tmp_path):
    half = [tracks if f < 10 else [] for f, tracks in enumerate(as_tracked(walkers()))]
    one = evaluate(seq, half, tmp_path / "a")
    assert summary(one)["FN"] == 20
    both = summary(combine([one, evaluate(seq, as_tracked(walkers()), tmp_path / "b")]))
    assert both["FN"] == 20 and both["MOTA"] == pytest.approx(75.0)


def test_true_stays_cross_halfway_between_frames_and_drop_flickers():
    # Feet at x = 20f + 20 (person 1): inside 205..405 from f = 10 (x 220, t 0.9) to f = 19 (x 400, t 1.8).
    stays = true_stays({f: b[:1] for f, b in walkers().items()}, FPS, [ZONE], confirm_s=0.5)
    assert stays == [("middle", pytest.approx(0.85), pytest.approx(1.85))]
    assert true_stays({f: b[:1] for f, b in walkers().items()}, FPS, [ZONE], confirm_s=1.5) == []


def test_true_stays_bridge_a_step_out_shorter_than_a_confirmation():
    xs = [250, 260, 270, 420, 280, 290, 300, 310, 320, 330, 340, 350]  # one frame outside, at f = 4
    gt = {f: [(1, x - 20, 100, x + 20, 200)] for f, x in enumerate(xs, 1)}
    assert true_stays(gt, FPS, [ZONE], confirm_s=0.5) == [("middle", 0.0, pytest.approx(1.1))]


def test_dwell_records_match_by_temporal_iou():
    truth = [("a", 0.0, 10.0), ("b", 2.0, 4.0)]
    exact = dwell_summary([match_stays(truth, [("a", 0.2, 10.0), ("b", 2.0, 4.5)])])
    assert exact["F1"] == 1.0 and exact["within"] == 100.0 and exact["p50"] == pytest.approx(0.35)
    # One stay reported as two: the piece covering most of it matches (IoU 0.55), with a 4.5 s error.
    split = match_stays(truth[:1], [("a", 0.0, 4.0), ("a", 4.5, 10.0)])
    assert split["errors"] == [pytest.approx(4.5)]
    assert dwell_summary([split])["F1"] == pytest.approx(2 / 3)
    assert dwell_summary([split])["within"] == 0.0
    # Same times in another zone match nothing.
    assert match_stays(truth[:1], [("b", 0.0, 10.0)])["errors"] == []


def test_the_product_pipeline_and_its_zones_see_a_clean_walk():
    # 2 s inside at 10 px per frame: longer than a zone's default 1 s confirmation.
    truth = {f: b[:1] for f, b in walkers(frames=50, step=10).items()}
    frames = [[(x1, y1, x2, y2, 0.9) for _, x1, y1, x2, y2 in truth[f]] for f in sorted(truth)]
    expected = true_stays(truth, FPS, [ZONE], confirm_s=1.0)
    assert expected == [("middle", pytest.approx(1.75), pytest.approx(3.75))]
    run = forecourt(frames, FPS, (640, 480), [], [ZONE])
    assert [len(t) for t in run["tracks"]] == [1] * 50
    assert dwell_summary([match_stays(expected, run["stays"])])["F1"] == 1.0
    again = scene_stays(run["tracks"], FPS, [ZONE])
    assert dwell_summary([match_stays(expected, again)])["F1"] == 1.0
