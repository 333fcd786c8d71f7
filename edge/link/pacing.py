"""Pure pacing: reconnection backoff with jitter, and the token bucket that limits replay. Time is passed in."""

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Exponential backoff with "equal jitter": the n-th wait is uniform in [b/2, b], b = min(max, min * 2^n).

    The jitter spreads a fleet that lost the broker at the same moment, so its reconnections do not
    arrive in one wave; the lower half keeps a single station from retrying too eagerly.
    """

    min_s: float
    max_s: float
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.max_s, self.min_s * 2 ** min(self.failures, 32))
        self.failures += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


@dataclass
class TokenBucket:
    """At most ``rate`` sends per second on average, bursts of up to ``burst``."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float | None = None

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def available(self, now: float) -> int:
        """Whole sends allowed now (refills by the time passed; spends nothing)."""
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return int(self.tokens + 1e-9)  # 0.9999999 tokens after waiting exactly wait_for_one() is one token

    def spend(self, count: int) -> None:
        self.tokens -= count

    def wait_for_one(self) -> float:
        """Seconds until the next send is allowed, as of the last :meth:`available`."""
        return max(0.0, (1 - self.tokens) / self.rate)
