"""The dashboard in a real headless Chromium against the running demo: log in, every simulated station
on the leaderboard, a station page with its charts, acknowledging an alert, closing an escalated follow-up,
a station manager's token meeting 403s gracefully. Screenshots go to test-artifacts/ for a person to look at."""

import signal
from pathlib import Path

import pytest

from forecourt.demo.fleet import FLEET
from tests.demo_process import REPO, DemoProcess, kill_leftovers

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts"


def scored(demo: DemoProcess) -> bool:
    """Some station has a score this month or this week (the board falls back to the week early in a month)."""
    for period in ("month", "week"):
        status, rows = demo.api(f"/api/v1/rankings?period={period}")
        if status == 200 and any(r["band"] != "insufficient" for r in rows):
            return True
    return False


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    running = DemoProcess(tmp_path_factory.mktemp("browser"), "--days", "2", "--for", "400")
    try:
        running.urls()
        running.wait_for(lambda: "live:" in running.stderr(), 150, "the back-fill to finish")
        running.wait_for(lambda: scored(running), 90, "the first scores")
        running.wait_for(lambda: running.api("/api/v1/alerts?state=open")[1], 90, "an open alert")
        yield running
    finally:
        running.stop(signal.SIGINT)
        kill_leftovers(str(running.data))


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: sudo apt-get install -y chromium", pytrace=False)
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    opened.errors = []
    opened.on("pageerror", lambda error: opened.errors.append(str(error)))
    yield opened
    context.close()
    assert opened.errors == [], "no JavaScript errors on any page"


def login(page, demo: DemoProcess, token: str | None = None, *, accepted: bool = True) -> None:
    urls = demo.urls()
    page.goto(urls["Dashboard"])
    page.fill("#token", token or urls["Token"])
    page.click("#login-form button[type=submit]")
    if accepted:  # the session is up (and has navigated to the leaderboard) before the test moves on
        page.wait_for_selector("#nav", state="visible")
        page.wait_for_selector("#login-form", state="detached")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)  # let Chart.js finish its first draw (animations are off)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_a_wrong_token_is_refused_on_the_login_page(page, demo):
    login(page, demo, token="not-a-real-token", accepted=False)
    error = page.locator("#login-error")
    error.wait_for(state="visible")
    assert "not valid" in error.inner_text()
    assert page.evaluate("sessionStorage.getItem('forecourt.token')") is None


def test_login_shows_every_simulated_station_on_the_leaderboard(page, demo):
    login(page, demo)
    page.wait_for_selector("#leaderboard tbody tr[data-station]")
    listed = page.eval_on_selector_all("#leaderboard tbody tr[data-station]", "rows => rows.map(r => r.dataset.station)")
    assert sorted(listed) == sorted(p.station for p in FLEET)
    assert page.locator("#leaderboard .badge.band-good, #leaderboard .badge.band-review, #leaderboard .badge.band-exposure").count() > 0
    assert page.inner_text("#who-name") == "demo-hq · hq"
    assert page.evaluate("sessionStorage.getItem('forecourt.token')") == demo.urls()["Token"]
    shot(page, "leaderboard.png")

    page.click(".region-card[data-region=west]")  # drill down: region -> its stations
    page.wait_for_selector("nav.crumbs >> text=west")
    west = page.eval_on_selector_all("#leaderboard tbody tr[data-station]", "rows => rows.map(r => r.dataset.station)")
    assert sorted(west) == sorted(p.station for p in FLEET if p.region.startswith("west/"))


def test_a_station_page_shows_restrooms_charts_and_health(page, demo):
    login(page, demo)
    page.wait_for_selector("#leaderboard tbody tr[data-station='bergen-danmarksplass'] a.station-link")
    page.click("#leaderboard tbody tr[data-station='bergen-danmarksplass'] a.station-link")
    page.wait_for_selector("#station-title")
    assert "Bergen Danmarksplass" in page.inner_text("#station-title")
    rooms = page.eval_on_selector_all("#restrooms tbody tr", "rows => rows.map(r => r.dataset.restroom)")
    assert sorted(rooms) == ["gents", "ladies"]
    assert "online" in page.inner_text("#health")
    for chart in ("ratings-chart", "greet-chart", "dwell-chart", "visits-chart"):
        drawn = page.evaluate(f"Chart.getChart(document.getElementById('{chart}')).data.datasets.some(d => d.data.length)")
        assert drawn, f"{chart} has data"
    shot(page, "station.png")

    page.click("text=Cross-signal view")
    page.wait_for_selector("#verdict")
    assert "Happy Index" in page.inner_text("#verdict") or "overdue" in page.inner_text("#verdict")
    shot(page, "cross-signal.png")


def test_acknowledging_an_alert_with_a_comment(page, demo):
    login(page, demo)
    page.click("nav#nav >> text=Alerts")
    row = page.locator("#alerts tr[data-alert]").first
    row.wait_for()
    alert_id = int(row.get_attribute("data-alert"))
    row.locator("button[data-act=acknowledge]").click()
    row.locator("form[data-action=acknowledge] input[name=comment]").fill("Manager called, cleaner rota fixed")
    row.locator("form[data-action=acknowledge] button[type=submit]").click()
    page.wait_for_selector(f"#alerts tr[data-alert='{alert_id}']", state="detached")
    shot(page, "alerts.png")

    status, acknowledged = demo.api("/api/v1/alerts?state=acknowledged")
    mine = next(a for a in acknowledged if a["id"] == alert_id)
    assert (mine["state"], mine["acknowledged_by"]) == ("acknowledged", "demo-hq")
    assert "cleaner rota fixed" in (mine["ack_comment"] or mine["comment"] or "")
    page.click("a[data-tab=acknowledged]")
    row = page.locator(f"#alerts tr[data-alert='{alert_id}']")
    row.wait_for()
    assert "ack: “Manager called, cleaner rota fixed”" in row.inner_text()

    row.locator("button[data-act=resolve]").click()  # resolving needs a comment: the form will not submit without
    row.locator("form[data-action=resolve] button[type=submit]").click()
    assert alert_id not in {a["id"] for a in demo.api("/api/v1/alerts?state=resolved")[1]}, "no resolve without a comment"
    row.locator("form[data-action=resolve] input[name=comment]").fill("Rota checked for a week")
    row.locator("form[data-action=resolve] button[type=submit]").click()
    page.wait_for_selector(f"#alerts tr[data-alert='{alert_id}']", state="detached")
    resolved = {a["id"]: a for a in demo.api("/api/v1/alerts?state=resolved")[1]}
    assert (resolved[alert_id]["resolved_by"], resolved[alert_id]["comment"]) == ("demo-hq", "Rota checked for a week")


def test_follow_ups_show_their_deadlines_and_escalations_and_close_with_a_note(page, demo):
    # The back-filled days' bad ratings are more than 24 h old: their follow-ups are overdue and escalated.
    demo.wait_for(lambda: demo.api("/api/v1/followups?escalated=true&state=open")[1], 90, "an escalated follow-up")
    login(page, demo)
    page.click("nav#nav >> text=Follow-ups")
    page.click("a[data-tab=escalated]")
    row = page.locator("#followups tr[data-followup]").first
    row.wait_for()
    item_id = int(row.get_attribute("data-followup"))
    item = demo.api(f"/api/v1/followups/{item_id}")[1]
    assert "overdue" in (row.get_attribute("class") or "")
    for stage in ("follow_up", "rectify"):
        cell = row.locator(f"td[data-stage={stage}]")
        assert cell.get_attribute("data-status") == item[stage]["status"]
        assert cell.inner_text().split("\n")[0] not in ("", "–"), "the deadline is shown"
    assert item["follow_up"]["status"] == "overdue"
    first = item["escalations"][0]
    told = row.locator(f"[data-escalation={first['stage']}]").inner_text()
    assert f"told {first['told']}" in told and all(user in told for user in first["users"])
    assert row.locator("td.ratings [data-rating]").count() == len(item["ratings"]) >= 1
    shot(page, "followups.png")

    row.locator("button[data-act=close]").click()
    row.locator("form[data-action=close] button[type=submit]").click()  # closing needs a note
    assert demo.api(f"/api/v1/followups/{item_id}")[1]["state"] == "open", "no close without a note"
    row.locator("form[data-action=close] input[name=note]").fill("Kiosk cleaned, shift lead briefed")
    row.locator("form[data-action=close] button[type=submit]").click()
    page.wait_for_selector(f"#followups tr[data-followup='{item_id}'] [data-test=close-note]")
    closed = demo.api(f"/api/v1/followups/{item_id}")[1]
    assert (closed["state"], closed["closed_by"], closed["close_note"]) == (
        "closed", "demo-hq", "Kiosk cleaned, shift lead briefed")
    assert closed["rectify"]["status"] in ("met", "late") and not closed["overdue"]


def test_a_station_managers_token_sees_only_their_station_and_403s_read_as_such(page, demo):
    token = demo.add_user("manager-bodo", "station:bodo")
    login(page, demo, token=token)
    page.wait_for_selector("[data-test=out-of-scope], #leaderboard tbody tr[data-station]")
    listed = page.eval_on_selector_all("#leaderboard tbody tr[data-station]", "rows => rows.map(r => r.dataset.station)")
    assert listed == ["bodo"]
    page.goto(demo.urls()["Dashboard"] + "#/station/oslo-sentrum")
    notice = page.locator("[data-test=out-of-scope]")
    notice.wait_for()
    assert "does not cover" in notice.inner_text()
    shot(page, "out-of-scope.png")
    page.goto(demo.urls()["Dashboard"] + "#/station/bodo")
    page.wait_for_selector("#station-title")
    assert "Bodø" in page.inner_text("#station-title")


def test_a_regional_managers_board_starts_at_their_region(page, demo):
    token = demo.add_user("manager-west", "region:west")
    login(page, demo, token=token)
    page.wait_for_selector("#leaderboard tbody tr[data-station]")
    listed = page.eval_on_selector_all("#leaderboard tbody tr[data-station]", "rows => rows.map(r => r.dataset.station)")
    assert sorted(listed) == sorted(p.station for p in FLEET if p.region.startswith("west/"))
    assert page.locator("[data-test=out-of-scope]").count() == 0


def test_the_camera_station_reports_people_from_the_real_detector_and_tracker(page, demo):
    def dwells():
        status, events = demo.api("/api/v1/stations/oslo-sentrum/events?kind=zone")
        return status == 200 and [e for e in events if e["zone"] == "road" and e["object_class"] == "person"]

    assert demo.wait_for(dwells, 90, "person dwells on vtest.avi's road")
    fps = demo.wait_for(
        lambda: (demo.api("/api/v1/stations/oslo-sentrum")[1].get("health") or {}).get("camera_fps"), 90, "camera fps in health"
    )
    assert 0 < fps <= 5
    login(page, demo)
    page.goto(demo.urls()["Dashboard"] + "#/station/oslo-sentrum")
    page.wait_for_selector("#health")
    assert "fps" in page.inner_text("#health")
