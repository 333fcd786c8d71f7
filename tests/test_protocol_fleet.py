"""What HQ may set on a station: keys, values judged by the fields' own definitions, the desired document
and the applied state on the wire."""

import json

import pytest

from forecourt.errors import ProtocolError
from forecourt.protocol import (
    ConfigDocument,
    ConfigState,
    check_setting,
    config_state_topic,
    decode,
    decode_config,
    encode,
    setting_errors,
    settings_hash,
)
from forecourt.protocol.fleet import SettingKey, parse_key
from tests.test_protocol import NOW

AT = "2026-11-23T10:00:00.000Z"


@pytest.mark.parametrize(("key", "parsed"), [
    ("log_level", SettingKey(None, None, "log_level")),
    ("restrooms.interval_min", SettingKey("restrooms", None, "interval_min")),
    ("restrooms.gents.interval_min", SettingKey("restrooms", "gents", "interval_min")),
    ("kiosks.shop-counter.response_interval_s", SettingKey("kiosks", "shop-counter", "response_interval_s")),
    ("zones.bay-1.greet_goal_s", SettingKey("zones", "bay-1", "greet_goal_s")),
])
def test_settable_keys(key, parsed):
    assert parse_key(key) == parsed and str(parsed) == key


@pytest.mark.parametrize(("key", "message"), [
    ("restrooms.intervl_min", "unknown setting 'intervl_min' (settable in restrooms: interval_min, active_hours"),
    ("restrooms.gents.button_pin", "unknown setting 'button_pin'"),  # wiring stays in the station's file
    ("mqtt.password_file", "unknown key"),
    ("restrooms.a.b.interval_min", "unknown key"),
    ("restrooms.interval_min.interval_min", "is not a restroom id"),
    ("outbox.path", "unknown key"),
])
def test_unknown_keys_name_what_may_be_set(key, message):
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_key(key)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("restrooms.interval_min", 0, "greater than 0"),
    ("restrooms.interval_min", "often", "valid number"),
    ("restrooms.active_hours", "25:00-26:00", "is not 'HH:MM-HH:MM'"),
    ("kiosks.simultaneous_s", 2, "less than or equal to 1"),
    ("zones.bay-1.uniform_colour", "red", "should match pattern"),
    ("log_level", "LOUD", "is not one of DEBUG, INFO, WARNING, ERROR"),
    ("restrooms.interval_min", [60], "a single value"),
])
def test_values_are_judged_by_the_fields_own_definition(key, value, message):
    with pytest.raises(ProtocolError, match=message) as err:
        check_setting(key, value)
    assert str(err.value).startswith(f"{key}: ")


def test_a_rule_tying_two_fields_is_left_to_the_station_which_knows_the_other():
    assert check_setting("restrooms.catch_up_min", 90) == 90  # above the default interval, fine if the station's is 180
    assert check_setting("restrooms.interval_min", 30) == 30
    assert [(e.path, e.message.split(": ", 1)[1][:14]) for e in setting_errors(
        {"restrooms.interval_min": -1, "log_level": "INFO", "nope": 1})] == [
        ("nope", "unknown key (s"), ("restrooms.interval_min", "Input should b")]


def test_the_document_and_the_state_round_trip_on_their_topics():
    settings = {"restrooms.interval_min": 60, "log_level": "INFO"}
    doc = ConfigDocument(rev=3, hash=settings_hash(settings), issued_at=AT, settings=settings)
    topic, payload = encode(doc, "oslo-1")
    assert topic == "forecourt/v1/oslo-1/config" and decode_config(topic, payload) == doc
    state = ConfigState(rev=3, hash=doc.hash, state="applied", applied_rev=3, at=AT)
    topic, payload = encode(state, "oslo-1")
    assert topic == config_state_topic("oslo-1") and decode(topic, payload, now=NOW) == state
    assert settings_hash({"log_level": "INFO", "restrooms.interval_min": 60}) == doc.hash  # key order does not matter


def test_a_damaged_document_is_refused_whole():
    body = {"v": 1, "rev": 3, "hash": settings_hash({"log_level": "INFO"}), "issued_at": AT,
            "settings": {"log_level": "DEBUG"}}
    with pytest.raises(ProtocolError, match="hash does not match"):
        decode_config("forecourt/v1/oslo-1/config", json.dumps(body).encode())
    with pytest.raises(ProtocolError, match="not a config topic"):
        decode_config("forecourt/v1/oslo-1/status", json.dumps(body).encode())
