"""A broker started for a demo dies with it, even when the demo is killed with SIGKILL."""

import os
import signal
import subprocess
import sys
import time

import pytest

SCRIPT = """
import sys, time
from pathlib import Path
from forecourt.broker import Mosquitto
broker = Mosquitto(Path(sys.argv[1]), users={"collector": "pw"}, die_with_parent={die}).start()
print(broker.process.pid, flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited even though its pid still answers
        return stat.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.parametrize("die", [True, False])
def test_sigkilled_parent_takes_its_broker_along_only_when_asked(tmp_path, die):
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT.replace("{die}", str(die)), str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    broker_pid = int(parent.stdout.readline())
    try:
        assert alive(broker_pid)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + (5 if die else 1)  # only the expected death needs patience
        while alive(broker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alive(broker_pid) is not die
    finally:
        if alive(broker_pid):
            os.kill(broker_pid, signal.SIGTERM)
