"""The onnxruntime adapter: the only place a session lives. Everything else is pure numpy.

``Detector(cfg).detect(bgr_image) -> list[Detection]`` in the image's own pixels. The bundled NanoDet-g
is the default; a user's Ultralytics YOLOv8/YOLO11 export works with ``format = "yolo"``.
"""

import ast
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge.config import DetectorConfig
from edge.vision.decode import Candidates, decode_nanodet, decode_yolo
from edge.vision.detection import COCO_NAMES, Detection
from edge.vision.nms import nms
from edge.vision.preprocess import preprocess_nanodet, preprocess_yolo
from forecourt.errors import ConfigError, ModelError
from models import model_path


def resolve_model(cfg: DetectorConfig) -> Path:
    path = Path(cfg.model) if cfg.model is not None else model_path(cfg.precision)
    if not path.is_file():
        hint = "reinstall forecourt (the bundled models ship in its wheel)" if cfg.model is None else (
            "check detector.model in the station config"
        )
        raise ModelError(f"detector model {str(path)!r} does not exist; {hint}")
    return path


def session_options(threads: int) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle ORT workers spin-wait by default, burning a core between frames; on a 2-4 core Pi that time
    # belongs to the sensor and MQTT threads. Costs a little latency (measured in models/README.md).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


def metadata_names(session: ort.InferenceSession) -> list[str] | None:
    """Ultralytics exports store ``{0: 'person', ...}`` in the model metadata under ``names``."""
    raw = session.get_modelmeta().custom_metadata_map.get("names")
    if not raw:
        return None
    try:
        names = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return None
    return [names[i] for i in sorted(names)] if isinstance(names, dict) else None


def wanted_ids(class_names: Sequence[str], wanted: Sequence[str]) -> np.ndarray:
    unknown = [name for name in wanted if name not in class_names]
    if unknown:
        raise ConfigError(f"detector.classes: {unknown} are not classes of this model")
    return np.array([class_names.index(name) for name in wanted], dtype=np.int64)


def to_detections(cands: Candidates, keep: np.ndarray, boxes: np.ndarray, names: Sequence[str]) -> list[Detection]:
    return [
        Detection(
            float(boxes[i, 0]), float(boxes[i, 1]), float(boxes[i, 2]), float(boxes[i, 3]),
            float(cands.scores[i]), names[int(cands.classes[i])],
        )
        for i in keep
    ]


class Detector:
    """Finds the configured classes in BGR frames; one onnxruntime session, ``cfg.threads`` threads."""

    def __init__(self, cfg: DetectorConfig | None = None) -> None:
        self.cfg = cfg or DetectorConfig()
        self.path = resolve_model(self.cfg)
        try:
            self._session = ort.InferenceSession(
                str(self.path), session_options(self.cfg.threads), providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # ORT raises its own untyped errors for corrupt or foreign files
            raise ModelError(f"detector model {str(self.path)!r} could not be loaded: {err}") from err
        inp = self._session.get_inputs()[0]
        self._input = inp.name
        self.size = self._input_size(inp.shape)
        if self.cfg.format == "nanodet":
            names = list(self.cfg.class_names or COCO_NAMES)
        else:
            names = list(self.cfg.class_names or metadata_names(self._session) or COCO_NAMES)
        self.names = names
        self._wanted = wanted_ids(names, self.cfg.classes)
        self.last_latency_s = 0.0

    @classmethod
    def from_config(cls, cfg: DetectorConfig) -> "Detector":
        return cls(cfg)

    def _input_size(self, shape: Sequence[object]) -> int:
        # A fixed-size export (typical for YOLO) dictates the size; a symbolic one takes the config's.
        if len(shape) != 4:
            raise ModelError(f"{self.path}: expected an NCHW image input, got shape {shape}")
        h, w = shape[2], shape[3]
        if isinstance(h, int) and isinstance(w, int):
            if h != w:
                raise ModelError(f"{self.path}: only square inputs are supported, got {w}x{h}")
            return h
        return self.cfg.input_size

    def infer(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run the model on a prepared tensor; records the model-only latency."""
        start = time.perf_counter()
        outputs = self._session.run(None, {self._input: tensor})
        self.last_latency_s = time.perf_counter() - start
        return outputs

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detections of the configured classes in a BGR ``HxWx3`` image, boxes in its pixels, best first."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a BGR HxWx3 image, got shape {image.shape}")
        height, width = image.shape[:2]
        cfg = self.cfg
        if cfg.format == "nanodet":
            tensor, transform = preprocess_nanodet(image, self.size)
            cands = decode_nanodet(self.infer(tensor), self.size, self.size, self._wanted, cfg.score_threshold)
        else:
            tensor, transform = preprocess_yolo(image, self.size)
            cands = decode_yolo(self.infer(tensor)[0], self._wanted, cfg.score_threshold)
        keep = nms(cands.boxes, cands.scores, cands.classes, cfg.nms_iou)
        return to_detections(cands, keep, transform.to_image(cands.boxes, width, height), self.names)

    def close(self) -> None:
        self._session = None  # type: ignore[assignment]  # frees the arena now rather than at GC

    def __enter__(self) -> "Detector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
