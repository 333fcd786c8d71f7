"""How far the demo's preparation is, shown while it runs: a bar redrawn in place on a terminal, a log line
per tenth elsewhere (a file or a pipe gets no carriage returns). The text is pure; :class:`Reporter` writes."""

import logging
import sys
from dataclasses import dataclass
from typing import TextIO

log = logging.getLogger("forecourt.demo")
WIDTH = 30


@dataclass(frozen=True)
class Step:
    phase: str  # "back-fill", "delivery to HQ", "rollups"
    done: float  # 0..1
    detail: str = ""  # "6.2 of 21 days", "1,204 rows to go"


def bar(done: float, width: int = WIDTH) -> str:
    """``[#########---------------------]  30 %`` for 0.3; clamped to 0..1."""
    done = min(1.0, max(0.0, done))
    filled = int(done * width)
    return f"[{'#' * filled}{'-' * (width - filled)}] {int(done * 100):3d} %"


def line(step: Step) -> str:
    detail = f"  {step.detail}" if step.detail else ""
    return f"{step.phase}: {bar(step.done)}{detail}"


class Reporter:
    """Call with each :class:`Step`; ``finish()`` ends the current bar. Thread-safe enough for one caller."""

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._phase: str | None = None
        self._tenth = -1
        self._width = 0

    def __call__(self, step: Step) -> None:
        if step.phase != self._phase:
            self.finish()
            self._phase, self._tenth = step.phase, -1
        if self.tty:
            text = line(step)
            self.stream.write("\r" + text.ljust(self._width))
            self.stream.flush()
            self._width = len(text)
        elif int(step.done * 10) > self._tenth:
            self._tenth = int(step.done * 10)
            log.info("%s", line(step))

    def finish(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
        self._phase, self._width = None, 0
