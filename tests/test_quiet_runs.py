"""Setup and test runs say nothing unless something is wrong: no probe noise, no deprecation warnings."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_setup_finds_a_python_without_printing_the_shims_complaints(tmp_path):
    """pyenv puts a shim on PATH for every version; one not installed says "command not found"."""
    shims = tmp_path / "shims"
    shims.mkdir()
    for name in ("python3.13", "python3.12"):
        shim = shims / name
        shim.write_text(f'#!/bin/sh\necho "pyenv: {name}: command not found" >&2\nexit 127\n')
        shim.chmod(0o755)
    (shims / "python3.11").symlink_to(sys.executable)  # a 3.11+ interpreter, as CI has
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup"), "--print-python"], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PATH": f"{shims}:/usr/bin:/bin"},
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.strip() == str(shims / "python3.11")


def test_the_api_test_client_imports_without_a_deprecation_warning():
    """Starlette's TestClient warns when it runs on httpx instead of httpx2 (the dev extra installs httpx2)."""
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import fastapi.testclient"],
        capture_output=True, text=True, timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
