"""What the station page costs the edge: CPU seconds and resident memory of a running EdgeService (mock pins,
the demo footage through the bundled detector at 5 fps, a private Mosquitto) with ``[web]`` on and polled
as a browser polls it (the view every 2 s, the camera picture every 1 s), against the same station with the
page off. Each round runs the station in a fresh child process, so imports are counted where they happen;
rounds alternate.

    .venv/bin/python bench/station_page.py [--rounds 3] [--seconds 30]
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def child(page: bool, seconds: float, broker_url: str, password: str, folder: Path) -> None:
    from gpiozero.pins.mock import MockFactory

    from edge.config import StationConfig
    from edge.service import EdgeService
    from forecourt.broker import free_port

    port = free_port()
    config = StationConfig.model_validate({
        "station": {"id": "a"}, "mqtt": {"url": broker_url, "username": "a", "password": password},
        "outbox": {"path": str(folder / f"outbox-{page}.db")},
        "restrooms": [{"id": "ladies", "button_pin": 5}],
        "kiosks": [{"id": "shop", "location": "shop", "scale": 3, "buttons": [17, 27, 22]}],
        "camera": {"source": str(REPO / "examples/footage/vtest.avi"), "fps": 5, "loop": True},
        "zones": [{"id": "road", "polygon": [[0, 190], [768, 190], [768, 490], [0, 490]], "classes": ["person"]}],
        "web": {"enabled": page, "listen": f"127.0.0.1:{port}"},
    })
    service = EdgeService(config, pin_factory=MockFactory(), notify_systemd=False)
    runner = threading.Thread(target=service.run, daemon=True)
    runner.start()
    time.sleep(5)  # start-up (model load) is not what we measure
    start_cpu, start = time.process_time(), time.monotonic()
    next_view = next_picture = start
    while (now := time.monotonic()) - start < seconds:
        if page and now >= next_picture:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/camera.jpg?overlay=1", timeout=5).read()
            except urllib.error.HTTPError as err:  # 503 until the first frame after the page asked
                if err.code != 503:
                    raise
            next_picture += 1
        if page and now >= next_view:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/view", timeout=5).read()
            next_view += 2
        time.sleep(0.05)
    cpu = time.process_time() - start_cpu  # includes the client's few requests: an upper bound
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    service.request_stop()
    runner.join(30)
    print(json.dumps({"cpu_s": cpu, "seconds": seconds, "max_rss_mb": rss_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--child", choices=["on", "off"])
    parser.add_argument("--broker")
    parser.add_argument("--password")
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.child:
        child(args.child == "on", args.seconds, args.broker, args.password, Path(args.folder))
        return
    from forecourt.broker import Mosquitto

    results: dict[str, list[dict]] = {"off": [], "on": []}
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "broker", users={"a": "pw-a"}) as broker:
        for _ in range(args.rounds):
            for mode in ("off", "on"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", mode, "--seconds", str(args.seconds), "--broker", broker.url,
                     "--password", "pw-a", "--folder", tmp], capture_output=True, text=True,
                )
                if out.returncode:
                    raise SystemExit(f"the page-{mode} station failed:\n{out.stderr[-2000:]}")
                results[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"station page cost: {args.rounds} rounds of {args.seconds:g} s, camera 5 fps through the bundled detector")
    for mode, rows in results.items():
        cpu = [r["cpu_s"] / r["seconds"] * 100 for r in rows]
        rss = [r["max_rss_mb"] for r in rows]
        print(f"  page {mode:3}: CPU {statistics.median(cpu):5.1f} % of a core ({min(cpu):.1f}-{max(cpu):.1f}), "
              f"max RSS {statistics.median(rss):6.1f} MB ({min(rss):.1f}-{max(rss):.1f})")
    off_cpu = statistics.median(r["cpu_s"] / r["seconds"] * 100 for r in results["off"])
    on_cpu = statistics.median(r["cpu_s"] / r["seconds"] * 100 for r in results["on"])
    off_rss = statistics.median(r["max_rss_mb"] for r in results["off"])
    on_rss = statistics.median(r["max_rss_mb"] for r in results["on"])
    print(f"  extra with the page on and watched: CPU {on_cpu - off_cpu:+.1f} points, RSS {on_rss - off_rss:+.1f} MB "
          f"(ratio on/off: CPU {on_cpu / off_cpu:.2f}, RSS {on_rss / off_rss:.2f})")


if __name__ == "__main__":
    main()
