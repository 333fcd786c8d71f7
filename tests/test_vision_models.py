"""The bundled model files and the tooling that makes them: symbolic sizes, pad folding, int8 agreement."""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from edge.config import DetectorConfig
from edge.vision.detector import Detector
from models import FILES, MODELS_DIR, model_path
from tools.footage import read_frames
from tools.quantize_model import agreement, evaluation_indices

FOOTAGE = Path(__file__).resolve().parents[1] / "examples" / "footage" / "vtest.avi"


def test_bundled_files_and_licence_are_in_the_package():
    for name in FILES.values():
        assert (MODELS_DIR / name).is_file()
    assert "MIT License" in (MODELS_DIR / "LICENSE.human-models.txt").read_text()
    with pytest.raises(ValueError, match="precision"):
        model_path("fp16")  # type: ignore[arg-type]


@pytest.mark.parametrize("precision", ["fp32", "int8"])
@pytest.mark.parametrize("size", [256, 320, 416, 480])
def test_any_multiple_of_32_runs(precision, size):
    session = ort.InferenceSession(str(model_path(precision)), providers=["CPUExecutionProvider"])
    outs = session.run(None, {"input_1:0": np.zeros((1, 3, size, size), np.float32)})
    anchors = sorted(o.shape[1] for o in outs)
    expected = sorted(2 * [(size // s) ** 2 for s in (8, 16, 32)])
    assert anchors == expected


def test_int8_agrees_with_fp32_on_frames_it_was_not_calibrated_on():
    frames = [f for _, f in read_frames(FOOTAGE, evaluation_indices(20)[:12])]  # frames 10, 30, ... 230
    fp32 = Detector(DetectorConfig(precision="fp32"))
    int8 = Detector(DetectorConfig(precision="int8"))
    ref = [fp32.detect(f) for f in frames]
    assert sum(map(len, ref)) >= 30  # enough boxes for the share to mean something
    assert agreement(ref, [int8.detect(f) for f in frames]) >= 0.95


def test_inf_pad_folds_into_maxpool_with_identical_output(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from tools.convert_model import fold_inf_pads_into_maxpool

    graph = helper.make_graph(
        [
            helper.make_node("Pad", ["x", "pads", "fill"], ["padded"]),
            helper.make_node("MaxPool", ["padded"], ["y"], kernel_shape=[3, 3], strides=[2, 2]),
        ],
        "pad_pool",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])],
        [
            numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"),
            numpy_helper.from_array(np.array(-np.inf, np.float32), "fill"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    x = -np.random.default_rng(1).random((1, 2, 8, 8), dtype=np.float32)  # all negative: a 0-pad would win
    before = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    assert fold_inf_pads_into_maxpool(model) == 1
    assert [n.op_type for n in model.graph.node] == ["MaxPool"] and len(model.graph.initializer) == 0
    onnx.checker.check_model(model)
    after = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    assert after.shape == before.shape == (1, 2, 4, 4) and np.array_equal(after, before)
