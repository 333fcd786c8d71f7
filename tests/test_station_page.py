"""The station page in a real headless Chromium, served by a running edge service (real broker, real
camera file through the bundled detector, gpiozero's MockFactory for the buttons): what the station is
doing, the install check lighting each pressed button (and its LED) without recording anything, and a
zone drawn on the picture written back to the config file. Screenshots go to test-artifacts/."""

import base64
import json
import sqlite3
import threading
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge.config import load_station_config
from edge.service import EdgeService
from forecourt.broker import free_port
from tests.test_dashboard_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.waiting import wait_until

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect
REPO = Path(__file__).resolve().parents[1]

CONFIG = """# A test station: the zone editor must keep this comment
[station]
id = "a"
name = "Alpha Vei"
timezone = "Europe/Oslo"

[mqtt]
url = "{broker}"
username = "a"
password = "{password}"

[outbox]
path = "{outbox}"

[web]
enabled = true
listen = "127.0.0.1:{port}"

[[restrooms]]
id = "ladies"
name = "Ladies"
button_pin = 5
led_pin = 6

[[kiosks]]
id = "shop"
location = "shop"
scale = 3
buttons = [17, 27, 22]
thank_you_led_pin = 9

[camera]
source = "{footage}"
fps = 5
loop = true

[[zones]]
id = "bay-van"   # the van's bay
kind = "pump_bay"
polygon = [[630, 60], [729, 60], [729, 130], [630, 130]]
classes = ["car", "truck", "bus"]

[[zones]]
id = "road"
polygon = [[0, 190], [768, 190], [768, 490], [0, 490]]
classes = ["person"]
"""


@pytest.fixture
def station(broker, mock_factory, tmp_path):
    port = free_port()
    path = tmp_path / "station.toml"
    path.write_text(CONFIG.format(broker=broker.url, password=broker.users["a"], outbox=tmp_path / "outbox.db", port=port,
                                  footage=REPO / "examples/footage/vtest.avi"))
    service = EdgeService(load_station_config(path), pin_factory=mock_factory, config_path=path, notify_systemd=False)
    runner = threading.Thread(target=service.run, name="edge-under-test", daemon=True)
    runner.start()
    assert wait_until(lambda: service.onsite is not None and service.onsite.page is not None, 30)
    try:
        yield service, f"http://127.0.0.1:{port}", path
    finally:
        service.request_stop()
        runner.join(30)


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: sudo apt-get install -y chromium", pytrace=False)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        opened = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        yield opened
        browser.close()
        assert errors == [], "no JavaScript errors"


def press(factory, pin: int) -> None:
    factory.pin(pin).drive_low()
    threading.Event().wait(0.1)  # held past the 30 ms debounce, as a finger does
    factory.pin(pin).drive_high()
    threading.Event().wait(0.1)


def recorded(service: EdgeService, *kinds: str) -> int:
    conn = sqlite3.connect(service.config.outbox.path)
    try:
        return conn.execute(f"SELECT count(*) FROM outbox WHERE kind IN ({','.join('?' * len(kinds))})", kinds).fetchone()[0]
    finally:
        conn.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_the_page_shows_the_station_and_a_rating(station, page, mock_factory):
    service, url, _ = station
    page.goto(url)
    page.wait_for_selector("#restrooms tbody tr[data-restroom=ladies]")
    assert page.inner_text("#title") == "Alpha Vei (a)"
    page.wait_for_selector("#link-state.ok", timeout=15000)
    press(mock_factory, 17)  # score 1 of 3 at the shop kiosk: a rating, recorded
    expect(page.locator("#kiosks tr[data-kiosk=shop] .counts")).to_have_text("1 · 0 · 0", timeout=10000)
    assert service.tally.figures(service.clock()).ratings["shop"] == {1: 1, 2: 0, 3: 0}
    assert wait_until(lambda: page.evaluate("document.getElementById('camera-image').naturalWidth") == 768, 30)
    expect(page.locator("#camera-state")).to_contain_text("detector running", timeout=10000)
    shot(page, "station-page.png")


def test_the_install_check_lights_each_press_and_records_nothing(station, page, mock_factory):
    service, url, _ = station
    page.goto(url)
    page.click("#install-start")
    button = "#install-inputs li[data-path='restrooms[0].button_pin']"
    page.wait_for_selector(button)
    assert page.locator("#install-inputs li").count() == 1 + 3
    mock_factory.pin(5).drive_low()  # held: lit on the page, and the restroom's LED is on
    page.wait_for_selector(f"{button}.lit")
    assert mock_factory.pin(6).state
    shot(page, "install-check.png")
    mock_factory.pin(5).drive_high()
    page.wait_for_selector(f"{button}.checked:not(.lit)")
    assert not mock_factory.pin(6).state
    press(mock_factory, 22)  # a kiosk score during the check: shown, not rated
    page.wait_for_selector("#install-inputs li[data-path='kiosks[0].buttons[2]'].checked")
    assert page.inner_text("#install-progress") == "2 of 4 buttons seen"
    today = service.tally.figures(service.clock())
    assert today.check_ins["ladies"] == 0 and sum(today.ratings["shop"].values()) == 0
    assert recorded(service, "rating", "cleaning") == 0  # nothing for HQ (no collector runs: nothing is acknowledged away)

    page.click("#install-stop")
    page.wait_for_selector("#install-start:not([hidden])")
    press(mock_factory, 5)  # the buttons count again: a cleaning
    expect(page.locator("#restrooms tr[data-restroom=ladies] .check-ins")).to_have_text("1", timeout=10000)
    assert service.tally.figures(service.clock()).check_ins["ladies"] == 1
    assert wait_until(lambda: recorded(service, "cleaning") == 1)


def test_a_zone_drawn_on_the_picture_is_written_to_the_config_file(station, page):
    service, url, path = station
    original = path.read_text()
    page.goto(url)
    page.wait_for_selector("#zone-image[data-ready='1']", timeout=30000)
    page.select_option("#zone-select", "road")
    page.click("#zone-redraw")
    box = page.locator("#zone-svg").bounding_box()
    corners = [(0.1, 0.5), (0.9, 0.5), (0.9, 0.95), (0.1, 0.95)]
    for fx, fy in corners:
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    page.click("#zone-finish")
    page.click("#zone-save")
    expect(page.locator("#zone-message")).to_contain_text("Saved to", timeout=10000)
    shot(page, "zone-editor.png")

    written = tomllib.loads(path.read_text())
    road = next(z for z in written["zones"] if z["id"] == "road")
    expected = [[round(fx * 768), round(fy * 576)] for fx, fy in corners]
    assert all(abs(a - b) <= 2 for got, want in zip(road["polygon"], expected, strict=True) for a, b in zip(got, want, strict=True))
    assert "# the van's bay" in path.read_text() and "must keep this comment" in path.read_text()
    backups = list(path.parent.glob("station.toml.*.bak"))
    assert len(backups) == 1 and backups[0].read_text() == original
    assert load_station_config(path).zones[1].polygon == [tuple(map(float, p)) for p in road["polygon"]]
    assert service.config.zones[1].polygon != load_station_config(path).zones[1].polygon  # applies at restart


def request(url: str, body: dict | None = None, method: str = "GET", content_type: str = "application/json"):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_the_api_refuses_what_it_must_and_serves_metrics(station, mock_factory):
    service, url, path = station
    before = path.read_text()
    assert request(f"{url}/api/zones", {"zones": [{"id": "road", "polygon": [[0, 0], [1, 1]]}]}, "PUT")[0] == 422
    assert request(f"{url}/api/install-check", {"active": True}, "POST", content_type="text/plain")[0] == 415
    assert path.read_text() == before
    press(mock_factory, 27)
    assert wait_until(lambda: sum(service.tally.figures(service.clock()).ratings["shop"].values()) == 1)
    status, body = request(f"{url}/metrics")
    assert status == 200
    found = {(s.name, tuple(sorted(s.labels.items()))): s.value
             for family in text_string_to_metric_families(body.decode()) for s in family.samples}
    assert found[("forecourt_edge_ratings_today", (("kiosk", "shop"), ("score", "2")))] == 1
    assert found[("forecourt_edge_outbox_depth", ())] == service.outbox.stats().depth
    assert found[("process_resident_memory_bytes", ())] > 0
    assert b"forecourt_edge_restroom_overdue_seconds" in body


def test_off_loopback_the_page_wants_its_password(broker, mock_factory, tmp_path):
    password = tmp_path / "page.password"
    password.write_text("forecourt:s3cret\n")
    password.chmod(0o600)
    port = free_port()
    path = tmp_path / "station.toml"
    path.write_text(f'[station]\nid = "a"\n[mqtt]\nurl = "{broker.url}"\n[outbox]\npath = "{tmp_path / "o.db"}"\n'
                    f'[web]\nenabled = true\nlisten = "127.0.0.1:{port}"\npassword_file = "{password}"\n')
    service = EdgeService(load_station_config(path), pin_factory=mock_factory, notify_systemd=False).start()
    try:
        assert request(f"http://127.0.0.1:{port}/api/view")[0] == 401
        auth = base64.b64encode(b"forecourt:s3cret").decode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/view", headers={"Authorization": f"Basic {auth}"})
        with urllib.request.urlopen(req, timeout=10) as response:
            assert json.loads(response.read())["station"] == "a"
    finally:
        service.stop()


@pytest.mark.parametrize(("listen", "password", "problem"), [
    ("127.0.0.1:8081", None, None), ("[::1]:8081", None, None), ("localhost:8081", None, None),
    ("0.0.0.0:8081", None, "give it a password"), ("192.168.1.20:8081", "/etc/forecourt/page.password", None),
    ("8081", None, "is not HOST:PORT"),
])
def test_the_page_is_loopback_unless_it_has_a_password(listen, password, problem):
    from pydantic import ValidationError

    from edge.config import WebSettings

    if problem is None:
        assert WebSettings(enabled=True, listen=listen, password_file=password).address.port == 8081
    else:
        with pytest.raises(ValidationError, match=problem):
            WebSettings(enabled=True, listen=listen, password_file=password)
