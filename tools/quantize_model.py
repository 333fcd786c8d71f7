"""Static int8 quantization of the bundled NanoDet-g, calibrated on real frames, and its agreement check.

Needs the ``quantize`` extra (onnx) next to onnxruntime:

    python -m tools.quantize_model                      # fp32 -> models/nanodet_g_coco_int8.onnx, then agreement
    python -m tools.quantize_model --keep-head-fp32     # leave the three head convolutions in float

Calibration uses every ``--calib-step``-th frame of the footage; agreement is measured on *other*
frames (offset by half a step) so the int8 model is never judged on the frames it was tuned on.
Agreement = share of fp32 detections matched by an int8 detection of the same class at IoU >= 0.5.
"""

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge.vision.detection import Detection
from edge.vision.nms import iou_matrix
from edge.vision.preprocess import preprocess_nanodet
from models import model_path
from tools.footage import read_frames

FOOTAGE = Path(__file__).resolve().parents[1] / "examples" / "footage" / "vtest.avi"


def calibration_indices(step: int, total: int = 795) -> list[int]:
    return list(range(0, total, step))


def evaluation_indices(step: int, total: int = 795) -> list[int]:
    return list(range(step // 2, total, step))


def agreement(reference: Sequence[Sequence[Detection]], other: Sequence[Sequence[Detection]], iou: float = 0.5) -> float:
    """Share of reference boxes (over all frames) matched one-to-one by a same-class box at IoU >= ``iou``."""
    total = matched = 0
    for ref, oth in zip(reference, other, strict=True):
        total += len(ref)
        used: set[int] = set()
        if not ref or not oth:
            continue
        ious = iou_matrix(np.array([d.box for d in ref]), np.array([d.box for d in oth]))
        for i in np.argsort([-d.score for d in ref]):
            for j in np.argsort(-ious[i]):
                if ious[i, j] < iou:
                    break
                if j not in used and oth[j].label == ref[i].label:
                    used.add(int(j))
                    matched += 1
                    break
    return matched / total if total else 1.0


class FrameReader:
    """onnxruntime's CalibrationDataReader protocol over preprocessed video frames."""

    def __init__(self, frames: Sequence[np.ndarray], size: int, input_name: str) -> None:
        self._feeds = iter([{input_name: preprocess_nanodet(f, size)[0]} for f in frames])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)

    def rewind(self) -> None:  # required by newer onnxruntime; one pass is all we need
        pass


def infinite_pad_nodes(model) -> list[str]:
    """Pads filling with -inf (TF's max-pool padding) and the nodes reading them: a -inf range has no
    int8 scale (NaN), and the quantizer would share that NaN scale through the MaxPool into the next conv."""
    from onnx import numpy_helper

    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer if not t.dims}
    names: list[str] = []
    for node in model.graph.node:
        fill = consts.get(node.input[2]) if node.op_type == "Pad" and len(node.input) > 2 else None
        if fill is not None and not np.isfinite(fill).all():
            names.append(node.name)
            names += [n.name for n in model.graph.node if node.output[0] in n.input]
    return names


def head_convs(model) -> list[str]:
    """The last convolution of each head (class scores + box bins, split apart right after it).

    Found by structure, not name: tf2onnx numbers nodes differently from one conversion to the next.
    """
    splits = {i for n in model.graph.node if n.op_type == "Split" for i in n.input}
    return [n.name for n in model.graph.node if n.op_type == "Conv" and n.output[0] in splits]


def quantize(src: Path, dst: Path, frames: Sequence[np.ndarray], size: int, keep_head_fp32: bool, method: str) -> None:
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        prepped = Path(tmp) / "prep.onnx"
        # Folds constants and fuses Pad into Conv first, so the quantizer sees the graph ORT will run.
        quant_pre_process(str(src), str(prepped), skip_symbolic_shape=True)
        exclude = infinite_pad_nodes(onnx.load(str(prepped))) + (head_convs(onnx.load(str(prepped))) if keep_head_fp32 else [])
        print(f"kept in float: {exclude}")
        quantize_static(
            str(prepped), str(dst), FrameReader(frames, size, "input_1:0"),
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=getattr(CalibrationMethod, method),
            nodes_to_exclude=exclude,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )


def main(argv: list[str] | None = None) -> int:
    from edge.config import DetectorConfig
    from edge.vision.detector import Detector

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=model_path("fp32"))
    parser.add_argument("-o", "--output", type=Path, default=model_path("int8"))
    parser.add_argument("--footage", type=Path, default=FOOTAGE)
    parser.add_argument("--calib-step", type=int, default=20, help="calibrate on every Nth frame")
    parser.add_argument("--size", type=int, default=416, help="calibration input size")
    parser.add_argument("--method", default="MinMax", choices=["MinMax", "Entropy", "Percentile"])
    parser.add_argument("--keep-head-fp32", action="store_true")
    parser.add_argument("--eval-only", action="store_true", help="only measure agreement of --output")
    args = parser.parse_args(argv)

    if not args.eval_only:
        frames = [f for _, f in read_frames(args.footage, calibration_indices(args.calib_step))]
        start = time.perf_counter()
        quantize(args.source, args.output, frames, args.size, args.keep_head_fp32, args.method)
        print(f"quantized on {len(frames)} frames in {time.perf_counter() - start:.0f} s -> {args.output}")
    evaluation = [f for _, f in read_frames(args.footage, evaluation_indices(args.calib_step))]
    for size in (320, 416):
        ref = Detector(DetectorConfig(model=args.source, input_size=size))
        q = Detector(DetectorConfig(model=args.output, input_size=size))
        a = agreement([ref.detect(f) for f in evaluation], [q.detect(f) for f in evaluation])
        print(f"agreement at {size}: {a:.1%} of fp32 boxes on {len(evaluation)} frames")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
