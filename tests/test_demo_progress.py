"""The demo's preparation shows how far it is: a bar redrawn in place on a terminal, a log line per tenth
in a file or pipe."""

import io
import logging

from forecourt.demo.progress import Reporter, Step, bar, line


def test_the_bar_fills_with_the_share_done_and_is_clamped():
    assert bar(0.0, 10) == "[----------]   0 %"
    assert bar(0.37, 10) == "[###-------]  37 %"
    assert bar(1.4, 10) == "[##########] 100 %"
    assert line(Step("back-fill", 0.5, "10.5 of 21 days")) == f"back-fill: {bar(0.5)}  10.5 of 21 days"


def test_a_terminal_gets_one_line_redrawn_per_phase():
    out = io.StringIO()
    report = Reporter(out, tty=True)
    for done in (0.1, 0.15, 1.0):
        report(Step("back-fill", done))
    report(Step("rollups", 0.5, "3 station-hours to go"))
    report.finish()
    text = out.getvalue()
    assert text.count("\n") == 2 and text.count("\r") == 4, "redrawn in place; a new line per phase"
    assert text.split("\n")[0].endswith(line(Step("back-fill", 1.0)))


def test_a_log_gets_a_line_per_tenth_not_per_call(caplog):
    report = Reporter(io.StringIO(), tty=False)
    with caplog.at_level(logging.INFO, logger="forecourt.demo"):
        for step in range(101):
            report(Step("back-fill", step / 100))
    assert [r.getMessage() for r in caplog.records] == [line(Step("back-fill", t / 10)) for t in range(11)]
