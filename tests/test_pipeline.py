"""Pipeline wiring with a scripted detector: drafts reach the sink, validate, and carry no pixels."""

import itertools
import json

import numpy as np
import pytest

from edge.events import ListSink
from edge.vision.detection import Frame
from edge.vision.pipeline import Pipeline, Scene, hex_to_bgr, wears
from edge.vision.tracker import Track, Tracker
from edge.vision.visits import PumpBay
from edge.vision.zones import Zone
from forecourt.protocol import encode, event_from, format_epoch
from tests import scenes


class ScriptedDetector:
    """Replays scripted detections by frame time, like a perfect model."""

    def __init__(self, by_ts):
        self.by_ts, self.calls = dict(by_ts), 0

    def detect(self, image):
        self.calls += 1
        return self.by_ts[float(image[0, 0, 0]) + scenes.T0]  # the frame carries its scene time


def frames_for(times, fill=200):
    for i, t in enumerate(times):
        image = np.full((600, 800, 3), fill, np.float64)
        image[0, 0, 0] = t
        yield Frame(image, scenes.T0 + t, i)


def bay2_pipeline(sink, times, **kw):
    scene_def = scenes.forecourt()
    actors = [scene_def.actors[4], scene_def.actors[5]]
    detector = ScriptedDetector(scenes.detections(actors, times))
    scene = Scene([Zone("apron-2", scenes.SERVICE2, confirm_s=1.0)], [PumpBay("bay-2", **scene_def.bays["bay-2"])])
    return Pipeline(frames_for(times), detector, Tracker(), scene, sink, **kw), detector


def to_event(draft, seq=1):
    return event_from(draft.body, id=f"evt{seq:09d}", seq=seq, station="st-1", ts=format_epoch(draft.at))


def test_drafts_reach_the_sink_and_are_valid_protocol_events():
    sink = ListSink()
    pipeline, _ = bay2_pipeline(sink, scenes.frame_times(0, 30, 5))
    pipeline.run()
    kinds = sorted(d.kind for d in sink.drafts)
    assert kinds == ["visit", "zone", "zone"]  # the visit; the car's and the attendant's dwells
    events = [to_event(d, i + 1) for i, d in enumerate(sink.drafts)]
    (visit,) = [e for e in events if e.kind == "visit"]
    assert visit.bay == "bay-2" and visit.greet_s == pytest.approx(11.07, abs=0.3)
    assert pipeline.stats()["frames"] == len(scenes.frame_times(0, 30, 5))
    assert pipeline.stats()["events"] == 3
    dwells = sorted((e.object_class, round(e.dwell_s)) for e in events if e.kind == "zone")
    assert dwells == [("car", 22), ("person", 5)]  # 16.9 -> 22.1 s


def test_no_payload_contains_image_data():
    sink = ListSink()
    pipeline, _ = bay2_pipeline(sink, scenes.frame_times(0, 30, 5), uniforms={"bay-2": ((200, 200, 200), 30.0)})
    pipeline.run()
    assert sink.drafts
    for i, draft in enumerate(sink.drafts):
        for value in draft.fields.values():
            assert value is None or isinstance(value, str | int | float), value
            assert not isinstance(value, str) or len(value) <= 64
        _, payload = encode(to_event(draft, i + 1))
        assert len(payload) < 600
        assert set(json.loads(payload)) <= {"v", "id", "seq", "station", "ts", "kind"} | set(draft.fields)


def test_motion_gate_skips_detection_but_keeps_tracks_and_timers():
    class EveryOther:
        def __init__(self):
            self.n = 0

        def check(self, frame):
            self.n += 1
            return self.n % 2 == 1

    sink = ListSink()
    pipeline, detector = bay2_pipeline(sink, scenes.frame_times(0, 30, 10), gate=EveryOther())
    pipeline.run()
    assert pipeline.frames_skipped == pipeline.frames_done // 2
    assert detector.calls == pipeline.frames_done - pipeline.frames_skipped
    assert [d.kind for d in sink.drafts].count("visit") == 1


def test_runs_in_a_thread_until_stopped_and_flushes_open_visits():
    sink = ListSink()
    times = [i / 5 for i in range(10_000)]
    scene_def = scenes.forecourt()
    car = scenes.Actor(5, "car", [(3, 520, 60), (5.8, 520, 340), (10_000, 520, 340)], scenes.CAR)
    detector = ScriptedDetector(scenes.detections([car], times[:200]))
    scene = Scene([], [PumpBay("bay-2", **scene_def.bays["bay-2"])])
    seen = itertools.count(1)
    pipeline = Pipeline(frames_for(times), detector, Tracker(), scene, sink,
                        on_frame=lambda *_: next(seen) == 100 and pipeline.stop(timeout=0))
    pipeline.start().join(timeout=30)
    assert 100 <= pipeline.frames_done < 110
    (visit,) = sink.drafts  # still parked when stopped: flushed, departed at its last sighting
    assert visit.kind == "visit" and visit.fields["departed_at"] == format_epoch(scenes.T0 + (pipeline.frames_done - 1) / 5)


def test_uniform_colour_of_the_torso():
    image = np.zeros((200, 200, 3), np.uint8)
    image[:, :100] = hex_to_bgr("#ff8000")  # orange left half
    left = Track(1, 20, 20, 80, 180, 0.9, "person", 0, 0)
    right = Track(2, 120, 20, 180, 180, 0.9, "person", 0, 0)
    assert hex_to_bgr("#ff8000") == (0, 128, 255)
    assert wears(image, left, (0, 128, 255), 30) and not wears(image, right, (0, 128, 255), 30)


def test_stop_is_honoured_while_the_camera_delivers_nothing():
    class DeadCamera:
        ended = False

        def __init__(self):
            self.reads = 0

        def read(self):  # a real Camera waits up to one interval, then returns None while it is down
            self.reads += 1
            if self.reads == 50:
                pipeline.stop(timeout=0)
            return None

        def stats(self):
            return {"camera_ok": False}

    camera = DeadCamera()
    pipeline = Pipeline(camera, ScriptedDetector({}), Tracker(), Scene(), ListSink())
    pipeline.run()
    assert camera.reads == 50 and pipeline.frames_done == 0
    assert pipeline.stats()["camera"] == {"camera_ok": False} and pipeline.stats()["fps"] == 0.0


def test_the_live_thread_skips_a_failing_frame_but_a_foreground_run_raises():
    class Flaky(ScriptedDetector):
        def detect(self, image):
            if float(image[0, 0, 0]) == 2.0:
                raise ValueError("corrupt frame")
            return super().detect(image)

    times = scenes.frame_times(0, 30, 5)
    car = scenes.forecourt().actors[4]
    for keep_going in (True, False):
        pipeline = Pipeline(frames_for(times), Flaky(scenes.detections([car], times)), Tracker(), Scene(), ListSink())
        if keep_going:
            pipeline.start().join(timeout=30)
            assert pipeline.frames_done == len(times) - 1
            assert pipeline.stats()["frame_errors"] == 1 and "corrupt frame" in pipeline.stats()["error"]
        else:
            with pytest.raises(ValueError, match="corrupt frame"):
                pipeline.run()


def test_from_config_wires_zones_bays_tracker_and_uniform_hints():
    from edge.config import StationConfig

    cfg = StationConfig.model_validate({
        "station": {"id": "st-1"},
        "detector": {"motion_gate": False},
        "tracker": {"new_track_score": 0.8, "lost_s": 2.0},
        "zones": [
            {"id": "bay-2", "kind": "pump_bay", "polygon": scenes.BAY2, "service_area": scenes.SERVICE2,
             "uniform_colour": "#c8c8c8", "uniform_tolerance": 20, "roll_up_s": 2.0},
            {"id": "road", "polygon": scenes.rect(0, 450, 800, 600), "classes": ["person"]},
        ],
    })
    times = scenes.frame_times(0, 30, 5)
    scene_def = scenes.forecourt()
    detector = ScriptedDetector(scenes.detections([scene_def.actors[4], scene_def.actors[5]], times))
    sink = ListSink()
    pipeline = Pipeline.from_config(cfg, sink, frames=frames_for(times), detector=detector)
    assert pipeline.gate is None and pipeline.tracker.people.new_track_score == 0.8 and pipeline.tracker.lost_s == 2.0
    assert [z.id for z in pipeline.scene.zones] == ["bay-2", "road"] and [b.id for b in pipeline.scene.bays] == ["bay-2"]
    assert pipeline.uniforms == {"bay-2": ((200, 200, 200), 20.0)} and pipeline.scene.bays[0].roll_up_s == 2.0
    pipeline.run()
    (visit,) = [d for d in sink.drafts if d.kind == "visit"]
    assert visit.fields["greet_s"] == pytest.approx(11.07, abs=0.3)  # the grey (200) frames make everyone uniformed
    assert {d.fields["zone"] for d in sink.drafts if d.kind == "zone"} == {"bay-2", "road"}


@pytest.mark.parametrize("loop", [False, True])
def test_from_config_opens_the_camera_with_its_loop_setting(loop):
    from pathlib import Path

    from edge.config import StationConfig

    clip = Path(__file__).resolve().parents[1] / "examples" / "footage" / "vtest.avi"
    cfg = StationConfig.model_validate(
        {"station": {"id": "st-1"}, "camera": {"source": str(clip), "loop": loop}, "detector": {"motion_gate": False}}
    )
    pipeline = Pipeline.from_config(cfg, ListSink(), detector=ScriptedDetector({}))
    assert pipeline.frames.loop is loop
