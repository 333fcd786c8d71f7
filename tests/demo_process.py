"""``forecourt demo`` as a real subprocess for tests: its printed URLs, its API, and what it leaves behind."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from forecourt.demo.orchestrate import scratch_dir

REPO = Path(__file__).resolve().parents[1]


class DemoProcess:
    def __init__(self, workdir: Path, *args: str, data: Path | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        # In RAM where possible, as the demo itself does: the outboxes fsync every simulated event.
        self._owns_data = data is None
        self.data = data or Path(tempfile.mkdtemp(prefix="forecourt-demo-test-", dir=scratch_dir())) / "data"
        self.stderr_path = workdir / "demo.stderr"
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "forecourt", "demo", "--data", str(self.data), *args],
            stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL, text=True, cwd=REPO,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def urls(self, timeout: float = 240) -> dict[str, str]:
        """The three printed lines as {"Dashboard": ..., "Token": ..., "MQTT": ...}, printed once HQ holds the back-fill."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < 3:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"demo printed {self.lines!r}; stderr:\n{self.stderr()[-3000:]}")
            time.sleep(0.05)
        return dict(line.split(": ", 1) for line in self.lines[:3])

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def api(self, path: str, token: str | None = None, body: dict | None = None) -> tuple[int, Any]:
        urls = self.urls()
        request = urllib.request.Request(
            urls["Dashboard"].rstrip("/") + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token or urls['Token']}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, None

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}; demo stderr:\n{self.stderr()[-3000:]}")

    def add_user(self, name: str, role: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "forecourt", "users", "add", name, "--role", role,
             "--database", str(self.data / "collector.db")],
            capture_output=True, text=True, check=True, timeout=60,
        )
        return out.stdout.strip()

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._stderr.close()
            if self._owns_data:
                shutil.rmtree(self.data.parent, ignore_errors=True)

    def leftovers(self) -> list[str]:
        """Processes still running whose command line names this demo's data directory."""
        return processes_mentioning(str(self.data))


def processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if text in cmdline and "zombie" not in state:
            found.append(f"{pid}: {cmdline.strip()}")
    return found


def kill_leftovers(text: str) -> None:
    """Last resort so a failing test does not leak processes into the next one."""
    for entry in processes_mentioning(text):
        with contextlib.suppress(OSError):
            os.kill(int(entry.split(":")[0]), signal.SIGKILL)
