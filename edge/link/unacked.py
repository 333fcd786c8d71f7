"""Which outbox rows are out awaiting HQ's storage acknowledgement, and when to send them again. Pure: time is passed in.

A row HQ has not answered ``resend_after_s`` after it was sent is due again. While HQ stays silent the
delay doubles once per round of resends, up to ``RESEND_BACKOFF_MAX`` times, so a fleet does not hammer
a broker whose collector is down; the first answer resets it.
"""

from collections import OrderedDict
from collections.abc import Iterable

RESEND_BACKOFF_MAX = 10


class Unacked:
    def __init__(self, *, resend_after_s: float, limit: int) -> None:
        self.resend_after_s = resend_after_s
        self.limit = limit
        self.delay = resend_after_s
        self._sent: OrderedDict[int, float] = OrderedDict()  # outbox row -> when last sent, oldest first
        self._round_at: float | None = None  # when the current round of resends began
        self._heard = False  # an answer came since that round began

    def __len__(self) -> int:
        return len(self._sent)

    def room(self) -> int:
        """How many more rows may go out before HQ answers."""
        return self.limit - len(self._sent)

    def sent(self, row: int, now: float) -> None:
        self._sent[row] = now
        self._sent.move_to_end(row)

    def due(self, now: float, most: int) -> list[int]:
        """Rows unanswered for ``delay`` seconds, oldest first, at most ``most``."""
        due: list[int] = []
        for row, sent_at in self._sent.items():
            if sent_at > now - self.delay or len(due) >= most:
                break
            due.append(row)
        return due

    def resent(self, now: float) -> None:
        """Some due rows went out again: a new round begins once the last is ``delay`` old."""
        if self._round_at is not None and now - self._round_at < self.delay:
            return
        if self._round_at is not None and not self._heard:
            self.delay = min(self.delay * 2, self.resend_after_s * RESEND_BACKOFF_MAX)
        self._round_at, self._heard = now, False

    def answered(self, rows: Iterable[int]) -> None:
        """HQ (or, keeping rows until PUBACK, the broker) answered for ``rows``: they are done."""
        self.forget(rows)
        self.delay, self._round_at, self._heard = self.resend_after_s, None, True

    def forget(self, rows: Iterable[int]) -> None:
        """Rows that left the outbox without an answer on this connection."""
        for row in rows:
            self._sent.pop(row, None)
