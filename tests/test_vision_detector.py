"""The real bundled model on real frames of vtest.avi, against boxes verified by eye.

The expected boxes were read off PNGs of frames 400 and 700 with the detections drawn on them and
checked by a person: every box sits on a walking person, the white van or the small car parked top-right
(none on the cones, litter or the rock on the grass). A detection counts if it has IoU >= MIN_IOU with
the expected box; the van may be called truck or car (COCO has no 'van').
"""

from pathlib import Path

import numpy as np
import pytest

from edge.config import DetectorConfig
from edge.vision.detection import Detection
from edge.vision.detector import Detector, metadata_names
from edge.vision.nms import iou_one_to_many
from forecourt.errors import ConfigError, ModelError
from models import DEFAULT_PRECISION, default_model_path, model_path
from tools.footage import read_frames

FOOTAGE = Path(__file__).resolve().parents[1] / "examples" / "footage" / "vtest.avi"
MIN_IOU = 0.6
VAN, CAR = (651, 44, 725, 98), (733, 52, 769, 95)
PEOPLE = {
    400: [(687, 300, 745, 409), (588, 141, 618, 202), (271, 199, 303, 284)],
    700: [
        (102, 285, 145, 396), (364, 173, 398, 255), (276, 213, 311, 295), (518, 165, 547, 232),
        (185, 167, 211, 239), (681, 216, 737, 307), (474, 137, 497, 200), (405, 152, 427, 202),
    ],
}


@pytest.fixture(scope="module")
def frames() -> dict[int, np.ndarray]:
    return dict(read_frames(FOOTAGE, sorted(PEOPLE)))


@pytest.fixture(scope="module")
def detectors():
    made: dict[tuple[str, int], Detector] = {}

    def get(precision: str, size: int) -> Detector:
        if (precision, size) not in made:
            made[(precision, size)] = Detector(DetectorConfig(precision=precision, input_size=size))
        return made[(precision, size)]

    yield get
    for det in made.values():
        det.close()


def best_iou(box, dets: list[Detection], labels: set[str]) -> float:
    boxes = np.array([d.box for d in dets if d.label in labels], dtype=np.float64).reshape(-1, 4)
    return float(iou_one_to_many(np.array(box, np.float64), boxes).max(initial=0.0))


def unexplained(dets: list[Detection], expected: list[tuple]) -> list[Detection]:
    exp = np.array(expected, np.float64)
    return [d for d in dets if iou_one_to_many(np.array(d.box), exp).max() < 0.3]


@pytest.mark.parametrize("precision", ["int8", "fp32"])
@pytest.mark.parametrize("size", [416, 320])
@pytest.mark.parametrize("index", sorted(PEOPLE))
def test_finds_the_people_and_parked_vehicles(frames, detectors, precision, size, index):
    dets = detectors(precision, size).detect(frames[index])
    for box in PEOPLE[index]:
        assert best_iou(box, dets, {"person"}) >= MIN_IOU, f"person at {box} missed: {dets}"
    assert best_iou(VAN, dets, {"truck", "car"}) >= MIN_IOU, f"van missed: {dets}"
    assert best_iou(CAR, dets, {"car"}) >= MIN_IOU, f"car missed: {dets}"
    # Confident detections must all be things a person verified (static false positives score < 0.5).
    assert [d for d in unexplained(dets, [*PEOPLE[index], VAN, CAR]) if d.score >= 0.5] == []
    assert all(d.label in DetectorConfig().classes for d in dets)
    assert [d.score for d in dets] == sorted((d.score for d in dets), reverse=True)


def test_class_filter_and_threshold_are_applied(frames):
    only_cars = Detector(DetectorConfig(classes=["car"], score_threshold=0.45)).detect(frames[400])
    assert {d.label for d in only_cars} == {"car"}
    assert best_iou(CAR, only_cars, {"car"}) >= MIN_IOU


def test_default_is_the_bundled_int8_model_and_threads_are_configurable():
    det = Detector(DetectorConfig(threads=1))
    assert det.path == default_model_path(416) == model_path(DEFAULT_PRECISION) == model_path("int8")
    assert det.path.stat().st_size < 5_000_000 and model_path("fp32").stat().st_size > 10_000_000
    assert det._session.get_session_options().intra_op_num_threads == 1
    assert det.size == 416


def test_missing_model_is_a_clear_model_error(tmp_path):
    with pytest.raises(ModelError, match="does not exist; check detector.model"):
        Detector(DetectorConfig(model=tmp_path / "nope.onnx"))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="could not be loaded"):
        Detector(DetectorConfig(model=junk))


def test_unknown_class_names_point_at_the_config_key():
    with pytest.raises(ConfigError, match=r"detector.classes: \['van'\]"):
        Detector(DetectorConfig(classes=["person", "van"]))


def test_rejects_images_that_are_not_bgr(detectors):
    with pytest.raises(ValueError, match="HxWx3"):
        detectors("int8", 416).detect(np.zeros((10, 10), np.uint8))


def tiny_yolo(path: Path, size: int, n: int, names: dict[int, str] | None) -> None:
    """A fixed-input ONNX model that always outputs one box: a stand-in for a user's YOLO export."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    out = np.zeros((1, 4 + len(names or {0: 0, 1: 1}), n), np.float32)
    out[0, :, 0] = [size / 2, size / 2, size / 4, size / 2, 0.1, 0.9][: out.shape[1]]
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMax", ["images"], ["m"], keepdims=0),
            helper.make_node("Mul", ["m", "zero"], ["z"]),
            helper.make_node("Add", ["boxes", "z"], ["output0"]),
        ],
        "tiny_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(out.shape))],
        [numpy_helper.from_array(out, "boxes"), numpy_helper.from_array(np.float32(0), "zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if names:
        model.metadata_props.add(key="names", value=repr(names))
    onnx.save(model, str(path))


def test_yolo_export_maps_letterboxed_boxes_back_to_the_image(tmp_path):
    path = tmp_path / "yolo.onnx"
    tiny_yolo(path, 64, 8, {0: "cone", 1: "forklift"})
    det = Detector(DetectorConfig(model=path, format="yolo", input_size=320, classes=["forklift"]))
    assert det.size == 64 and det.names == ["cone", "forklift"]
    assert metadata_names(det._session) == ["cone", "forklift"]
    (found,) = det.detect(np.zeros((100, 200, 3), np.uint8))
    # Letterbox 200x100 -> 64x32 at y 16..48: the model's centred 16x32 box is x 75..125, y 0..100.
    assert (found.label, round(found.score, 2)) == ("forklift", 0.9)
    assert np.allclose(found.box, (75, 0, 125, 100), atol=0.01)
