"""The dashboard in a real headless Chromium against the running demo: log in, every simulated station
on the leaderboard, a station page with its charts and figures (checked against the API), cleared alerts told
apart from live ones, acknowledging an alert, closing an escalated follow-up, a station manager's token
meeting 403s gracefully, and no console error on any page. Screenshots go to test-artifacts/ for a person
to look at."""

import math
import re
import signal
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from cloud.alerts import NewAlert, open_alerts
from cloud.config import AlertSettings
from cloud.store import open_db, writing
from forecourt.demo.fleet import FLEET
from forecourt.protocol import format_ts
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


def figures_text(summary: dict) -> tuple[str, str]:
    """The station page's two lines of figures, as they read for this summary from the API."""
    def n(value):
        return "–" if value is None else f"{value:.0f}"

    def visits(count):
        return f"{count} visit{'' if count == 1 else 's'}"

    share = summary["greet_within_goal"]
    within = "–" if share is None else f"{math.floor(share * 100 + 0.5)} %"  # JavaScript's Math.round
    few = " (few visits: read with care)" if summary["greeted"] < 20 else ""
    greet = (f"goal 60 s · p50 {n(summary['greet_p50'])} s · p90 {n(summary['greet_p90'])} s · within goal {within} · "
             f"{summary['greeted']} greeted of {visits(summary['greet_judged'])}{few}")
    dwell = f"goal 300 s · p50 {n(summary['dwell_p50'])} s · p90 {n(summary['dwell_p90'])} s · {visits(summary['visits'])}"
    return greet, dwell


def test_the_station_pages_figures_are_the_apis_for_the_window_in_their_title(page, demo):
    login(page, demo)
    for _attempt in range(5):  # a rollup may land between the page's request and ours: then look again
        page.goto(demo.urls()["Dashboard"] + "#/station/oslo-majorstuen")
        card = page.locator("#greet-figures[data-start]")
        card.wait_for()
        start, end = card.get_attribute("data-start"), card.get_attribute("data-end")
        shown = (card.locator("[data-test=figures]").inner_text(), page.inner_text("#dwell-figures [data-test=figures]"))
        query = urllib.parse.urlencode({"start": start, "end": end})
        status, summary = demo.api(f"/api/v1/stations/oslo-majorstuen/summary?{query}")
        if shown == figures_text(summary):
            break
    assert status == 200 and shown == figures_text(summary)
    assert "Greeting time (last 7 days)" in card.inner_text()
    began, ended = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (start, end))
    assert ended - began == timedelta(days=7) and ended - timedelta(hours=1) <= datetime.now(UTC) < ended
    charted = page.evaluate("Chart.getChart(document.getElementById('greet-chart')).data.datasets[0].data.reduce((a, b) => a + b, 0)")
    assert charted == summary["greeted"] > 20, "the histogram is the same visits as the figures"
    latest = [m for m in demo.api("/api/v1/metrics?station=oslo-majorstuen&bucket=hour")[1] if m["visits"]][-1]
    assert summary["visits"] > latest["visits"], "a week of visits, not the latest hour's"


def test_small_samples_say_how_small(page, demo):
    login(page, demo)
    page.goto(demo.urls()["Dashboard"] + "#/station/oslo-majorstuen")
    page.wait_for_selector("#ratings-chart")
    points = page.evaluate("""(() => {
        const happy = Chart.getChart(document.getElementById('ratings-chart')).data.datasets.at(-1);
        return happy.data.map((p, i) => [p.n, happy.pointBackgroundColor[i]]);
    })()""")
    assert any(n < 5 for n, _ in points) and any(n >= 5 for n, _ in points), "the demo has quiet night hours"
    assert all((colour == "#fff") == (n < 5) for n, colour in points), "hollow exactly where fewer than 5 ratings"
    assert "fewer than 5 ratings" in page.inner_text("#view")


def test_counts_read_in_the_singular_when_there_is_one(page, demo):
    login(page, demo)
    page.wait_for_selector(".region-card")
    said = page.evaluate("""import('/static/js/format.js').then((f) => [
        f.plural(1, 'open alert'), f.plural(2, 'open alert'), f.plural(1, 'day'), f.plural(0, 'station'),
        f.plural(1, 'overdue stretch', 'overdue stretches'), f.duration(3 * 86400)])""")
    assert said == ["1 open alert", "2 open alerts", "1 day", "0 stations", "1 overdue stretch", "3 days"]
    cards = " ".join(page.eval_on_selector_all(".region-card span", "spans => spans.map(s => s.textContent)"))
    assert not re.search(r"\b1 (stations|open alerts)\b", cards)
    page.goto(demo.urls()["Dashboard"] + "#/cross/bodo")
    page.wait_for_selector("#verdict")
    assert page.eval_on_selector("#cross-days option[value='1']", "o => o.textContent") == "1 day"


def test_an_unknown_station_in_the_cross_view_is_named_not_swapped_for_another(page, demo):
    login(page, demo)
    page.goto(demo.urls()["Dashboard"] + "#/cross/nope")
    notice = page.locator("[data-test=unknown-station]")
    notice.wait_for()
    assert "no station “nope”" in notice.inner_text()
    assert page.eval_on_selector("#cross-station", "s => [s.value, s.selectedOptions[0].textContent]") == ["nope", "nope (unknown)"]
    page.select_option("#cross-station", "bodo")
    page.wait_for_selector("#verdict")
    assert page.locator("[data-test=unknown-station]").count() == 0


@pytest.fixture(scope="module")
def cleared_and_active(demo):
    """Two open restroom alerts at one station, one of which the station has since reported cleared."""
    db = open_db(demo.data / "collector.db")
    now = datetime.now(UTC)
    found = [NewAlert("haugesund", "restroom_overdue", room, f"browser-{room}", f"restroom {room} overdue for more than 15 min",
                      now - timedelta(hours=hours)) for room, hours in (("gents", 16), ("ladies", 2))]
    with writing(db):
        open_alerts(db, found, AlertSettings())
        db.execute("UPDATE alerts SET cleared_at = ? WHERE episode = 'browser-gents'", [format_ts(now - timedelta(hours=15))])
    ids = dict(db.execute("SELECT subject, id FROM alerts WHERE episode LIKE 'browser-%'").fetchall())
    db.close()
    return ids


def test_cleared_alerts_look_cleared_and_filter_apart_from_live_ones(page, demo, cleared_and_active):
    login(page, demo)
    page.goto(demo.urls()["Dashboard"] + "#/alerts?station=haugesund")
    cleared = page.locator(f"#alerts tr[data-alert='{cleared_and_active['gents']}']")
    active = page.locator(f"#alerts tr[data-alert='{cleared_and_active['ladies']}']")
    cleared.wait_for()
    assert "cleared" in cleared.get_attribute("class") and "cleared" not in (active.get_attribute("class") or "")
    assert "condition cleared 15 h" in cleared.locator("[data-condition=cleared]").inner_text()
    assert active.locator("[data-condition=active]").inner_text() == "condition still active"
    shot(page, "alerts-cleared.png")

    page.select_option("#alert-condition", "cleared")
    # Locator expectations, not wait_for_function: its string predicate is eval'd, which the page's CSP forbids.
    expect(page.locator("#alert-condition")).to_have_value("cleared")
    expect(page.locator("#alerts tr[data-alert]:not([data-condition='cleared'])")).to_have_count(0)
    expect(page.locator("#alerts tr[data-alert]").first).to_be_visible()
    listed = page.eval_on_selector_all("#alerts tr[data-alert]", "rows => rows.map(r => Number(r.dataset.alert))")
    api = demo.api("/api/v1/alerts?state=open&station=haugesund&condition=cleared")[1]
    assert listed == [a["id"] for a in api] == [cleared_and_active["gents"]]

    page.goto(demo.urls()["Dashboard"] + "#/station/haugesund")
    title = page.locator("#station-alerts-title")
    title.wait_for()
    assert re.fullmatch(r"Open alerts \(\d+, 1 with the condition cleared\)", title.inner_text())
    assert page.locator(f"#station-alerts tr.cleared[data-alert='{cleared_and_active['gents']}']").count() == 1


def test_every_page_loads_without_a_console_error(page, demo):
    errors = []
    page.on("console", lambda message: errors.append(f"{page.url}: {message.text}") if message.type == "error" else None)
    login(page, demo)
    pages = page.eval_on_selector_all("#nav a[href^='#/']", "links => links.map(a => a.getAttribute('href'))")
    pages += ["#/station/oslo-sentrum", "#/station/oslo-sentrum?range=7d", "#/cross/oslo-sentrum?days=28",
              "#/alerts?tab=resolved&condition=finding", "#/leaderboard?region=west&period=week"]
    for hash_ in pages:
        page.goto(demo.urls()["Dashboard"] + hash_)
        page.wait_for_selector("#view .view :is(h1, .notice)")
        page.wait_for_load_state("networkidle")
    assert len(pages) >= 8 and errors == []
