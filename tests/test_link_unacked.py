"""When unanswered rows go out again: pure, with time passed in."""

from edge.link.unacked import RESEND_BACKOFF_MAX, Unacked


def test_a_row_is_due_once_unanswered_for_the_delay_oldest_first():
    unacked = Unacked(resend_after_s=30, limit=3)
    unacked.sent(1, now=0)
    unacked.sent(2, now=10)
    assert unacked.room() == 1
    assert unacked.due(29.9, most=10) == []
    assert unacked.due(30, most=10) == [1]
    assert unacked.due(40, most=1) == [1]
    unacked.sent(1, now=40)  # sent again: now the youngest
    assert unacked.due(45, most=10) == [2]


def test_silence_doubles_the_delay_once_a_round_up_to_its_cap_and_an_answer_resets_it():
    unacked = Unacked(resend_after_s=30, limit=10)
    unacked.sent(1, now=0)
    unacked.resent(30)  # the first round: no doubling yet
    unacked.resent(31)  # the same round, another batch
    assert unacked.delay == 30
    now = 60.0
    for _ in range(10):
        unacked.resent(now)
        now += unacked.delay
    assert unacked.delay == 30 * RESEND_BACKOFF_MAX
    unacked.answered([1])
    assert (unacked.delay, len(unacked)) == (30, 0)
    unacked.sent(2, now=now)
    unacked.resent(now + 30)
    assert unacked.delay == 30  # a fresh round after an answer starts undoubled
