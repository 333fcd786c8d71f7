"""Pure pre/post-processing on synthetic tensors: both decoders, NMS, transforms, agreement."""

import numpy as np
import pytest

from edge.vision.decode import decode_nanodet, decode_yolo, gfl_distances, pair_nanodet_outputs
from edge.vision.detection import Detection
from edge.vision.nms import iou_matrix, nms
from edge.vision.preprocess import Transform, check_size, preprocess_nanodet, preprocess_yolo
from tools.quantize_model import agreement

BINS = 11


def nanodet_outputs(size: int, hits: dict[tuple[int, int], tuple[int, float, tuple[int, int, int, int]]]):
    """Six outputs for a ``size`` square input; hits: (stride, anchor) -> (class, score, bins per side)."""
    outs = []
    for stride in (8, 16, 32):
        n = (size // stride) ** 2
        scores = np.full((1, n, 80), 0.01, np.float32)
        logits = np.zeros((1, n, 4 * BINS), np.float32)
        for (s, anchor), (cls, score, sides) in hits.items():
            if s == stride:
                scores[0, anchor, cls] = score
                for side, b in enumerate(sides):
                    logits[0, anchor, side * BINS + b] = 30.0  # one-hot after softmax
        outs += [logits, scores]  # deliberately boxes first: the decoder must pair by shape
    return outs[::-1]


def test_gfl_expectation_of_one_hot_and_uniform_bins():
    one_hot = np.zeros((1, 4 * BINS), np.float32)
    one_hot[0, [3, BINS + 0, 2 * BINS + 10, 3 * BINS + 5]] = 50.0
    assert gfl_distances(one_hot, BINS) == pytest.approx(np.array([[3, 0, 10, 5]]), abs=1e-4)
    assert gfl_distances(np.zeros((1, 4 * BINS)), BINS) == pytest.approx(np.full((1, 4), 5.0))


def test_nanodet_box_from_cell_centre_and_stride():
    # stride 16 at 64x64: 4 columns; anchor 6 = row 1, col 2 -> centre (40, 24)
    outs = nanodet_outputs(64, {(16, 6): (2, 0.9, (1, 2, 1, 0))})
    cands = decode_nanodet(outs, 64, 64, np.array([0, 2]), 0.35)
    assert np.allclose(cands.boxes, [[24, -8, 56, 24]], atol=1e-3)
    assert cands.scores.tolist() == pytest.approx([0.9])
    assert cands.classes.tolist() == [2]


def test_nanodet_keeps_only_wanted_classes_above_threshold():
    hits = {(8, 0): (14, 0.95, (1, 1, 1, 1)), (32, 3): (0, 0.3, (1, 1, 1, 1)), (8, 9): (7, 0.6, (2, 2, 2, 2))}
    cands = decode_nanodet(nanodet_outputs(64, hits), 64, 64, np.array([0, 2, 7]), 0.35)
    assert cands.classes.tolist() == [7]  # the bird (14) is unwanted, the person (0) too faint
    # stride 8, anchor 9 = row 1, col 1 -> centre (12, 12), 2 bins * 8 px each way
    assert np.allclose(cands.boxes, [[-4, -4, 28, 28]], atol=1e-3)


def test_nanodet_rejects_outputs_of_another_size():
    with pytest.raises(ValueError, match="stride 8"):
        pair_nanodet_outputs(nanodet_outputs(64, {}), 96, 96)
    assert len(decode_nanodet(nanodet_outputs(96, {}), 96, 96, np.array([0]), 0.35)) == 0


def test_yolo_decodes_centre_width_height_and_best_wanted_class():
    out = np.zeros((1, 4 + 3, 5), np.float32)
    out[0, :4, 1] = [100, 50, 20, 40]
    out[0, 4:, 1] = [0.1, 0.8, 0.7]
    out[0, :4, 3] = [10, 10, 4, 4]
    out[0, 4:, 3] = [0.2, 0.1, 0.3]  # below threshold
    cands = decode_yolo(out, np.array([0, 2]), 0.5)  # class 1 is not wanted: class 2 (0.7) wins
    assert np.allclose(cands.boxes, [[90, 30, 110, 70]], atol=1e-3)
    assert cands.classes.tolist() == [2]
    assert cands.scores.tolist() == pytest.approx([0.7])
    with pytest.raises(ValueError, match="4\\+classes"):
        decode_yolo(np.zeros((1, 3, 5)), np.array([0]), 0.5)


def test_nms_suppresses_overlaps_within_a_class_only():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.6, 0.9, 0.5, 0.4], np.float32)
    classes = np.array([0, 0, 2, 0])
    assert nms(boxes, scores, classes, 0.5).tolist() == [1, 2, 3]
    assert nms(boxes, scores, np.zeros(4, int), 0.5).tolist() == [1, 3]
    assert nms(boxes[:0], scores[:0], classes[:0], 0.5).tolist() == []


def test_iou_matrix():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [3, 3, 3, 3]], np.float32)
    assert iou_matrix(a, b)[0].tolist() == pytest.approx([1.0, 1 / 3, 0.0, 0.0])


def test_nanodet_preprocess_stretches_and_normalises():
    image = np.zeros((100, 200, 3), np.uint8)
    image[..., 2] = 255
    tensor, transform = preprocess_nanodet(image, 64)
    assert tensor.shape == (1, 3, 64, 64) and tensor.dtype == np.float32
    assert tensor[0, :, 0, 0] == pytest.approx([-103.53 / 57.375, -116.28 / 57.12, (255 - 123.675) / 58.395])
    boxes = transform.to_image(np.array([[32, 32, 64, 64]], np.float32), 200, 100)
    assert np.allclose(boxes, [[100, 50, 200, 100]], atol=1e-3)


def test_yolo_letterbox_round_trips_and_clips():
    image = np.full((100, 200, 3), 7, np.uint8)
    tensor, transform = preprocess_yolo(image, 64)
    assert transform == Transform(0.32, 0.32, 0, 16)
    assert tensor[0, 0, 0, 0] == pytest.approx(114 / 255) and tensor[0, 0, 32, 32] == pytest.approx(7 / 255)
    boxes = transform.to_image(np.array([[0, 16, 32, 32], [-5, 0, 70, 70]], np.float32), 200, 100)
    assert np.allclose(boxes, [[0, 0, 100, 50], [0, 0, 200, 100]], atol=1e-3)


@pytest.mark.parametrize("size", [0, 100, 330, -32])
def test_input_size_must_be_a_multiple_of_32(size):
    with pytest.raises(ValueError, match="multiple of 32"):
        check_size(size)


def test_agreement_counts_same_class_matches_once():
    ref = [[Detection(0, 0, 10, 10, 0.9, "person"), Detection(20, 20, 40, 40, 0.8, "car")], []]
    same = [[Detection(1, 0, 10, 10, 0.7, "person"), Detection(20, 20, 40, 40, 0.8, "truck")], []]
    assert agreement(ref, same) == 0.5
    assert agreement(ref, [[Detection(0, 0, 10, 10, 0.9, "person")] * 2, []]) == 0.5
    assert agreement([[], []], [[], []]) == 1.0


def test_yolo_preprocess_is_rgb_unit_range():
    image = np.zeros((64, 64, 3), np.uint8)
    image[..., 0], image[..., 2] = 255, 51  # blue full, red 0.2
    tensor, _ = preprocess_yolo(image, 64)
    assert tensor[0, :, 5, 5].tolist() == pytest.approx([0.2, 0.0, 1.0])
