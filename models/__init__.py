"""The detector models bundled with Forecourt (see models/README.md for the model card).

One file per precision serves every input size: the input's height and width are symbolic, so any
multiple of 32 works (320 and 416 are measured). Nothing here loads a model; it only names files.
"""

from pathlib import Path
from typing import Literal

Precision = Literal["fp32", "int8"]
MODELS_DIR = Path(__file__).resolve().parent
FILES: dict[str, str] = {"fp32": "nanodet_g_coco_fp32.onnx", "int8": "nanodet_g_coco_int8.onnx"}
# int8 became the default only because it agrees with fp32 on >= 95% of boxes (table in README.md).
DEFAULT_PRECISION: Precision = "int8"


def model_path(precision: Precision = DEFAULT_PRECISION) -> Path:
    """Path of the bundled NanoDet-g COCO model of that precision (it may be missing in a broken install)."""
    if precision not in FILES:
        raise ValueError(f"precision must be one of {sorted(FILES)}, got {precision!r}")
    return MODELS_DIR / FILES[precision]


def default_model_path(input_size: int = 416, precision: Precision = DEFAULT_PRECISION) -> Path:
    """The bundled model for ``input_size``; the same file for every multiple of 32."""
    if input_size <= 0 or input_size % 32:
        raise ValueError(f"input size must be a positive multiple of 32, got {input_size}")
    return model_path(precision)
