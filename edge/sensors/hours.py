"""Active hours in the station's time zone: which instants count towards a cleaning interval.

The overdue clock runs only while the restroom is in use: cleaned at 21:30 with hours 06:00-22:00 and a
60 min interval, it is due at 06:30 the next morning, not at 22:30 (nobody is there to clean) nor at
06:00 sharp (it only had 30 minutes of use). Wall times are resolved with :mod:`zoneinfo`, so daylight
saving days are 23 or 25 hours long, as they are for the staff.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from forecourt.protocol.fleet import parse_active_hours

DAY_MIN = 24 * 60


@dataclass(frozen=True)
class ActiveHours:
    start_min: int  # minutes after local midnight
    end_min: int  # may be <= start_min: the span wraps past midnight
    tz: ZoneInfo

    @classmethod
    def parse(cls, text: str, tz: ZoneInfo) -> "ActiveHours":
        start, end = parse_active_hours(text)
        return cls(start, end, tz)

    @property
    def all_day(self) -> bool:
        return (self.end_min - self.start_min) % DAY_MIN == 0

    def is_active(self, when: float) -> bool:
        return any(start <= when < end for start, end in self._spans(when, when))

    def span_at(self, when: float) -> tuple[float, float] | None:
        """The active span (start, end) that holds ``when``; None outside active hours or when all day."""
        if self.all_day:
            return None
        return next(((start, end) for start, end in self._spans(when, when) if start <= when < end), None)

    def active_seconds(self, begin: float, end: float) -> float:
        """Seconds of active hours within [begin, end); 0 when end <= begin (e.g. after a clock step back)."""
        if end <= begin:
            return 0.0
        if self.all_day:
            return end - begin
        return sum((max(0.0, min(e, end) - max(s, begin)) for s, e in self._spans(begin, end)), 0.0)

    def after_active(self, begin: float, seconds: float) -> float:
        """The instant at which ``seconds`` of active hours have passed since ``begin``."""
        if self.all_day:
            return begin + seconds
        left = seconds
        day = self._local_date(begin) - timedelta(days=1)
        while True:  # ends: every day holds at least one active minute and the interval is bounded by config
            start, end = self._span_of(day)
            start = max(start, begin)
            if end > start:
                if end - start >= left:
                    return start + left
                left -= end - start
            day += timedelta(days=1)

    def _spans(self, begin: float, end: float) -> Iterator[tuple[float, float]]:
        """Active spans (epoch seconds) that may overlap [begin, end], one per local start day."""
        day, last = self._local_date(begin) - timedelta(days=1), self._local_date(end)
        while day <= last:
            yield self._span_of(day)
            day += timedelta(days=1)

    def _span_of(self, day: date) -> tuple[float, float]:
        end_day = day + timedelta(days=1) if self.end_min <= self.start_min else day
        return self._at(day, self.start_min), self._at(end_day, self.end_min)

    def _at(self, day: date, minutes: int) -> float:
        # Aware datetime + timedelta is wall-clock arithmetic; timestamp() resolves DST gaps and folds.
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.tz)
        return (midnight + timedelta(minutes=minutes)).timestamp()

    def _local_date(self, when: float) -> date:
        return datetime.fromtimestamp(when, self.tz).date()
