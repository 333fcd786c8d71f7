"""The settings rollout view in a real headless Chromium, over the HQ API on a real database: per station
applied, pending online, pending offline and rejected with its reasons by key; the layers HQ holds; the audit
trail; a region manager seeing only its region. No timing: every check waits for what it reads."""

from datetime import UTC, datetime

import pytest

from cloud.api import create_app
from cloud.auth import add_user
from cloud.fleet_config import CHAIN, Layer
from cloud.fleet_store import change_settings, current_document, record_state
from cloud.registry import StationEntry, import_stations
from cloud.store import open_db
from forecourt.protocol import ConfigState, SettingError, format_ts
from tests import test_dashboard_browser as dashboard
from tests.cloud_kit import serving

playwright = pytest.importorskip("playwright.sync_api")
browser = dashboard.browser  # the dashboard tests' Chromium, launched the same way (a module-scoped fixture)
NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def applied(db, station: str, state: str = "applied", errors=()) -> None:
    document, at = current_document(db, station), format_ts(NOW)
    record_state(db, station, ConfigState(rev=document.rev, hash=document.hash, state=state, errors=list(errors),
                                          applied_rev=document.rev if state == "applied" else 1, at=at), at)


@pytest.fixture(scope="module")
def hq(tmp_path_factory):
    path = tmp_path_factory.mktemp("rollout") / "hq.db"
    db = open_db(path)
    import_stations(db, [StationEntry("leeds-1", "Leeds", "north/leeds"), StationEntry("york-1", "York", "north/york"),
                         StationEntry("hull-1", "Hull", "north/hull"), StationEntry("bath-1", "Bath", "south")], now=NOW)
    db.execute("UPDATE stations SET status = 'online' WHERE id IN ('leeds-1', 'york-1', 'bath-1')")
    db.execute("UPDATE stations SET status = 'offline' WHERE id = 'hull-1'")
    change_settings(db, CHAIN, values={"log_level": "INFO"}, by="alice", now=NOW)
    for station in ("leeds-1", "york-1", "hull-1"):
        applied(db, station)
    change_settings(db, Layer("region", "north"), values={"restrooms.interval_min": 60}, by="bob", now=NOW)
    applied(db, "leeds-1")
    applied(db, "york-1", "rejected", [SettingError(
        path="restrooms.interval_min", message="restrooms.ladies.catch_up_min: 90 would flag every cleaning on time")])
    tokens = {"hq": add_user(db, "hq-user", "hq"), "south": add_user(db, "south-manager", "region:south")}
    db.close()
    with serving(create_app(path, clock=lambda: NOW)) as port:
        yield f"http://127.0.0.1:{port}/", tokens


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], "no JavaScript errors"


def open_rollout(page, url: str, token: str) -> None:
    page.goto(url)
    page.fill("#token", token)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#nav", state="visible")
    page.click("nav#nav >> text=Settings")
    page.wait_for_selector("#rollout tbody tr[data-station]")


def test_the_rollout_view_shows_each_station_the_layers_and_the_audit_trail(page, hq):
    url, tokens = hq
    open_rollout(page, url, tokens["hq"])
    states = page.eval_on_selector_all("#rollout tbody tr", "rows => rows.map(r => [r.dataset.station, r.dataset.rollout])")
    assert sorted(states) == [["bath-1", "pending_online"], ["hull-1", "pending_offline"], ["leeds-1", "applied"],
                              ["york-1", "rejected"]]
    assert page.inner_text("#rollout-counts [data-count=rejected] strong") == "1"
    reason = page.locator("#rollout tr[data-station='york-1'] [data-error='restrooms.interval_min']")
    assert "would flag every cleaning on time" in reason.inner_text()
    assert "pending (offline)" in page.inner_text("#rollout tr[data-station='hull-1']")
    layers = page.eval_on_selector_all("#layers tbody tr", "rows => rows.map(r => [r.dataset.layer, r.dataset.key])")
    assert layers == [["chain", "log_level"], ["region:north", "restrooms.interval_min"]]
    audit = page.eval_on_selector_all("#audit tbody tr", "rows => rows.map(r => r.innerText)")
    assert len(audit) == 2 and "bob" in audit[0] and "(unset) → 60" in audit[0]
    dashboard.ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(dashboard.ARTIFACTS / "rollout.png"), full_page=True)


def test_a_region_manager_sees_its_region_only(page, hq):
    url, tokens = hq
    open_rollout(page, url, tokens["south"])
    stations = page.eval_on_selector_all("#rollout tbody tr", "rows => rows.map(r => r.dataset.station)")
    assert stations == ["bath-1"]
    layers = page.eval_on_selector_all("#layers tbody tr", "rows => rows.map(r => r.dataset.layer)")
    assert layers == ["chain"]  # the north's settings do not reach the south
