"""Contact-bounce suppression on edge timestamps: a change counts once the contact has stayed put.

Why not gpiozero's ``bounce_time``: its meaning depends on the pin factory (RPi.GPIO ignores edges for a
while after one, so the bounce of a *release* after a long hold can fire a second press; lgpio waits for a
stable level; ``MockPin`` ignores it entirely, "XXX Need to implement this"), users report missed and
phantom events with it (gpiozero issues #378, #550), and it reads the real monotonic clock, so weeks of
simulated history cannot be replayed. Here every edge arrives with a time from an injected clock, and a
change is accepted when the new level has held for ``bounce_s``. The change is dated at the *first* edge
of its bounce burst, so a rating carries the moment of first contact, not of the last rebound.

Confirmation needs a later edge or a :meth:`Debouncer.settle` call (the sensors' ``tick``), so a press is
reported at the latest one tick after it happened, with its true time. Spikes shorter than ``bounce_s``
(a noisy wire) never become presses.
"""

from dataclasses import dataclass

# Epoch floats near 1.7e9 carry ~0.2 us of rounding; without slack "held exactly bounce_s" would flip.
_SLACK = 1e-6


@dataclass(frozen=True)
class Transition:
    pressed: bool
    at: float


class Debouncer:
    """One contact. ``edge(level, at)`` for every raw change, ``settle(now)`` periodically."""

    def __init__(self, bounce_s: float, *, pressed: bool = False, at: float = 0.0) -> None:
        if bounce_s < 0:
            raise ValueError(f"bounce_s must be >= 0, got {bounce_s}")
        self.bounce_s = bounce_s
        self.pressed = pressed  # the debounced level
        self._raw = pressed
        self._raw_at = at  # last raw edge
        self._left_at = at  # first edge away from the debounced level in the current burst
        self._back_at: float | None = None  # when the raw level last returned to the debounced one
        self.edges = 0  # raw edges seen, for diagnostics

    def edge(self, pressed: bool, at: float) -> list[Transition]:
        """A raw level change at ``at``; returns the debounced changes this confirms (oldest first)."""
        confirmed = self.settle(at)
        if pressed == self._raw:
            return confirmed  # a repeated level (a missed edge in between): nothing new
        self.edges += 1
        self._raw, self._raw_at = pressed, at
        if pressed == self.pressed:
            self._back_at = at
        elif self._back_at is None or at - self._back_at >= self.bounce_s - _SLACK:
            self._left_at = at  # a new departure, not a rebound within the same burst
        if self.bounce_s == 0:
            confirmed += self.settle(at)
        return confirmed

    def settle(self, now: float) -> list[Transition]:
        """Confirm the raw level if it has held for ``bounce_s`` by ``now``."""
        if self._raw == self.pressed or now - self._raw_at < self.bounce_s - _SLACK:
            return []
        self.pressed = self._raw
        self._back_at = None
        return [Transition(self.pressed, self._left_at)]
