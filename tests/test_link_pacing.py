"""Reconnection backoff and the replay token bucket: pure, with time passed in."""

import random

import pytest

from edge.link.pacing import Backoff, TokenBucket


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half():
    backoff = Backoff(1.0, 8.0, random.Random(4))
    delays = [backoff.next_delay() for _ in range(7)]
    ceilings = [1, 2, 4, 8, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True)), delays
    backoff.reset()
    assert 0.5 <= backoff.next_delay() <= 1.0


def test_backoff_jitter_spreads_a_fleet_that_lost_the_broker_together():
    fleet = [Backoff(1.0, 60.0, random.Random(seed)) for seed in range(50)]
    for station in fleet:
        station.next_delay(), station.next_delay()
    third = sorted(station.next_delay() for station in fleet)
    assert third[0] >= 2.0 and third[-1] <= 4.0
    assert third[-1] - third[0] > 1.0  # not one wave


def test_backoff_survives_a_very_long_outage():
    backoff = Backoff(1.0, 60.0, random.Random(1))
    for _ in range(10_000):
        assert backoff.next_delay() <= 60.0


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # (time, wanted) -> granted; rate 10/s, burst 5
        ([(0.0, 100)], [5]),  # a burst, then the rate
        ([(0.0, 5), (0.1, 5)], [5, 1]),
        ([(0.0, 5), (0.5, 10)], [5, 5]),  # refills to the burst, never beyond
        ([(0.0, 5), (10.0, 10)], [5, 5]),
        ([(0.0, 3), (0.0, 3)], [3, 2]),
    ],
)
def test_token_bucket_grants_at_most_rate_per_second_after_a_burst(steps, expected):
    bucket = TokenBucket(rate=10.0, burst=5.0)
    granted = []
    for now, wanted in steps:
        allowed = min(wanted, bucket.available(now))
        bucket.spend(allowed)
        granted.append(allowed)
    assert granted == expected


def test_token_bucket_says_how_long_until_the_next_send():
    bucket = TokenBucket(rate=4.0, burst=1.0)
    bucket.spend(bucket.available(0.0))
    assert bucket.available(0.0) == 0
    assert bucket.wait_for_one() == pytest.approx(0.25)
    assert bucket.available(0.25) == 1


def test_replaying_a_backlog_at_the_limit_takes_the_time_the_limit_says():
    bucket, now, sent = TokenBucket(rate=500.0, burst=100.0), 0.0, 0
    while sent < 10_100:
        allowed = bucket.available(now)
        bucket.spend(allowed)
        sent += allowed
        now += bucket.wait_for_one() or 0.001
    assert now == pytest.approx(20.0, abs=0.05)  # 100 at once, then 10,000 at 500/s
