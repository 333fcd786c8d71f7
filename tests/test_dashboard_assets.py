"""The dashboard's assets: served by ``mount`` from the package, nothing fetched from elsewhere at run time,
and the vendored chart library shipped with its licence and provenance."""

import hashlib
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud import dashboard

VENDOR = dashboard.STATIC_DIR / "vendor" / "chartjs"


def client() -> TestClient:
    app = FastAPI()
    dashboard.mount(app)
    return TestClient(app)


def test_mount_serves_the_page_and_its_assets():
    http = client()
    page = http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    referenced = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert "/static/vendor/chartjs/chart.umd.min.js" in referenced and "/static/js/app.js" in referenced
    for path in referenced:
        assert http.get(path).status_code == 200, path
    assert http.get("/static/js/views/station.js").headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert http.get("/static/nope.js").status_code == 404


def test_nothing_is_loaded_from_another_host():
    for path in dashboard.STATIC_DIR.rglob("*"):
        if path.suffix not in {".html", ".js", ".css"} or "vendor" in path.parts:
            continue
        text = path.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path
        assert not re.search(r"""(import|fetch)\s*\(?\s*["'](https?:)?//""", text), path
        assert "@import url(http" not in text, path


def test_the_vendored_chart_library_keeps_its_licence_and_matches_its_recorded_checksum():
    assert "MIT License" in (VENDOR / "LICENSE.md").read_text()
    note = (VENDOR / "VENDOR.md").read_text()
    version = re.search(r"`chart\.js` (\d+\.\d+\.\d+)", note).group(1)
    library = (VENDOR / "chart.umd.min.js").read_bytes()
    assert f"Chart.js v{version}".encode() in library[:200]
    assert hashlib.sha256(library).hexdigest() in note
