"""What a detector returns and what the tracker consumes: plain frozen values, no arrays."""

from dataclasses import dataclass

# COCO ids of the classes a forecourt cares about (the detector keeps only the configured ones).
COCO_NAMES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
)
VEHICLES = frozenset({"car", "truck", "bus", "motorcycle"})
# Mean colours of a box's upper and lower body (edge.vision.reid.look_of): what re-identification compares.
Look = tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Detection:
    """One object in one frame, in the original image's pixels (x1, y1) top-left, (x2, y2) bottom-right.

    ``look`` is filled in by :func:`edge.vision.reid.with_looks` when the image is at hand.
    """

    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    label: str
    look: Look | None = None

    @property
    def bottom_centre(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2, self.y2)

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)


@dataclass(frozen=True, slots=True)
class Frame:
    """A captured image and the wall-clock time (epoch seconds) it was captured; never a frame count."""

    image: object  # numpy.ndarray HxWx3 BGR; typed loosely so this module needs no numpy
    ts: float
    index: int = 0
