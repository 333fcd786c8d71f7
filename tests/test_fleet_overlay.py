"""HQ's settings laid over a station's file (edge/fleet/overlay.py): pure, table-tested."""

import pytest

from edge.config import StationConfig
from edge.fleet.overlay import Change, Effective, changes, overlay
from forecourt.protocol import SettingError

BAY = {"id": "bay-1", "kind": "pump_bay", "polygon": [[0, 0], [10, 0], [10, 10]]}
FILE = StationConfig.model_validate({
    "station": {"id": "a"},
    "restrooms": [
        {"id": "ladies", "button_pin": 5, "interval_min": 60, "catch_up_min": 20},
        {"id": "gents", "button_pin": 6, "interval_min": 90, "active_hours": "06:00-22:00"},
    ],
    "kiosks": [{"id": "shop", "location": "shop", "scale": 3, "buttons": [17, 27, 22]}],
    "zones": [BAY, {"id": "road", "polygon": [[0, 0], [5, 0], [5, 5]]}],
})


def rules(effective: Effective, section: str, field: str) -> dict[str, object]:
    return {item.id: getattr(item, field) for item in getattr(effective.config, section)}


def test_a_section_wide_key_sets_every_item_and_a_per_item_key_wins_over_it():
    # The per-item key sorts before the section-wide one: order in the document must not matter.
    effective = overlay(FILE, {"restrooms.gents.interval_min": 30, "restrooms.interval_min": 45,
                               "restrooms.ladies.catch_up_min": None})
    assert isinstance(effective, Effective)
    assert rules(effective, "restrooms", "interval_min") == {"ladies": 45, "gents": 30}
    assert rules(effective, "restrooms", "catch_up_min") == {"ladies": None, "gents": None}
    assert effective.log_level is None


def test_what_the_document_does_not_set_is_the_files_value():
    effective = overlay(FILE, {"kiosks.response_interval_s": 8, "zones.bay-1.roll_up_s": 5, "log_level": "DEBUG"})
    assert isinstance(effective, Effective)
    assert rules(effective, "kiosks", "response_interval_s") == {"shop": 8}
    assert rules(effective, "zones", "roll_up_s") == {"bay-1": 5, "road": 3.0}
    assert effective.log_level == "DEBUG"
    unset = effective.config.model_copy(update={"kiosks": FILE.kiosks, "zones": FILE.zones})
    assert unset == FILE  # wiring, ids, everything else: the file's
    assert overlay(FILE, {}) == Effective(FILE)  # no settings: the file alone, not what HQ set before


@pytest.mark.parametrize(("settings", "expected"), [
    ({"restrooms.gentz.interval_min": 1},
     [("restrooms.gentz.interval_min", "restrooms.gentz: this station has no restroom 'gentz' (it has: ladies, gents)")]),
    ({"kiosks.lobby.low_scores": 1},
     [("kiosks.lobby.low_scores", "kiosks.lobby: this station has no kiosk 'lobby' (it has: shop)")]),
    ({"restrooms.colour": "blue"}, [("restrooms.colour", "restrooms.colour: unknown setting 'colour'")]),
    ({"password": "x"}, [("password", "password: unknown key")]),
    ({"restrooms.interval_min": -5}, [("restrooms.interval_min", "restrooms.interval_min: Input should be greater than 0")]),
    ({"restrooms.active_hours": "9-5"}, [("restrooms.active_hours", "restrooms.active_hours: '9-5' is not 'HH:MM-HH:MM'")]),
    ({"log_level": "LOUD"}, [("log_level", "log_level: 'LOUD' is not one of DEBUG, INFO, WARNING, ERROR")]),
    ({"zones.uniform_colour": "red"}, [("zones.uniform_colour", "zones.uniform_colour: String should match pattern")]),
])
def test_an_invalid_setting_is_an_error_on_its_key(settings, expected):
    errors = overlay(FILE, settings)
    assert isinstance(errors, list) and all(isinstance(e, SettingError) for e in errors)
    assert [(e.path, e.message[: len(prefix)]) for e, (_, prefix) in zip(errors, expected, strict=True)] == expected


def test_every_error_is_reported_at_once_in_key_order():
    errors = overlay(FILE, {"restrooms.interval_min": 0, "restrooms.gentz.min_gap_min": 1, "kiosks.thank_you_s": 90,
                            "restrooms.ladies.interval_min": 30})  # the valid one does not hide the others
    assert [e.path for e in errors] == ["kiosks.thank_you_s", "restrooms.gentz.min_gap_min", "restrooms.interval_min"]


def test_a_rule_across_fields_is_judged_on_this_stations_values_and_blames_the_documents_key():
    # ladies has catch_up_min = 20 in its file: an interval of 15 would flag every cleaning on time.
    errors = overlay(FILE, {"restrooms.interval_min": 15})
    assert errors == [SettingError(
        path="restrooms.interval_min",
        message="restrooms.ladies.catch_up_min: 20 would flag every cleaning on time (interval_min is 15)",
    )]
    # Set by HQ too: the key that set the named field takes the blame.
    errors = overlay(FILE, {"restrooms.interval_min": 15, "restrooms.gents.catch_up_min": 15})
    assert [(e.path, e.message.split(":")[0]) for e in errors] == [
        ("restrooms.interval_min", "restrooms.ladies.catch_up_min"),
        ("restrooms.gents.catch_up_min", "restrooms.gents.catch_up_min"),
    ]
    assert isinstance(overlay(FILE, {"restrooms.interval_min": 15, "restrooms.ladies.catch_up_min": 5}), Effective)


def test_changes_list_each_item_that_a_key_changes_and_whether_it_applies_live():
    before = overlay(FILE, {"restrooms.gents.interval_min": 30})
    after = overlay(FILE, {"restrooms.interval_min": 30, "kiosks.hold_limit_s": 3.0, "log_level": "WARNING"})
    assert changes(before, after) == [
        Change("restrooms.ladies.interval_min", 60.0, 30.0, live=True),  # gents was 30 already: unchanged
        Change("log_level", None, "WARNING", live=True),  # hold_limit_s = 3.0 is the file's value: no change
    ]
    assert changes(after, Effective(FILE)) == [  # HQ stops sending them: back to the file
        Change("restrooms.ladies.interval_min", 30.0, 60.0, live=True),
        Change("restrooms.gents.interval_min", 30.0, 90.0, live=True),
        Change("log_level", "WARNING", None, live=True),
    ]
