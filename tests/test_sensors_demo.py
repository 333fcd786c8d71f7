"""The runnable sensors example keeps working (docs that cannot go stale) and tells the story it claims."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_sensors_demo_prints_the_expected_morning():
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "sensors_demo.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    events = [line for line in result.stdout.splitlines() if "LEDs" not in line and "stats" not in line]
    assert events == [
        "06:05:00  cleaning         restroom=ladies",
        "06:07:00  cleaning         restroom=ladies flag=too_soon since_last_s=120 active_since_last_s=120",
        "06:20:00  rating           kiosk=restroom-exit location=restroom score=1 scale=4 reason=cleanliness",
        "06:30:00  rating           kiosk=shop-counter location=shop score=3 scale=3",
        "06:30:00  filtered_presses kiosk=shop-counter location=shop reason=burst presses=7 span_s=2",
        "07:00:00  alert            alert=restroom_overdue state=open subject=gents value=0",
        "07:05:00  alert            alert=restroom_overdue state=open subject=ladies value=0",
        "07:10:00  cleaning         restroom=ladies since_last_s=3900 active_since_last_s=3900",
        "07:10:00  alert            alert=restroom_overdue state=cleared subject=ladies value=300",
        "07:30:00  filtered_presses kiosk=shop-counter location=shop reason=stuck presses=1 span_s=0",
        "07:30:10  alert            alert=kiosk_button_stuck state=open subject=shop-counter value=10",
        "07:30:15  alert            alert=kiosk_button_stuck state=cleared subject=shop-counter value=15",
    ]
    assert "'restrooms[ladies].led': 'blink'" in result.stdout
    assert "'filtered_presses': {'restroom-exit': 0, 'shop-counter': 8}" in result.stdout
