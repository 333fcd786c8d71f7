"""The shipped ACL against a real broker: a station may only publish as itself."""

import pytest

from forecourt.broker import Mosquitto, verify_password
from tests.mqtt import Recorder, Refused, connect, publish


def test_station_cannot_publish_into_another_stations_topics(broker):
    recorder = Recorder(broker)
    forger = connect(broker, "a")
    acks = []
    forger.on_publish = lambda _c, _u, _mid, reason, _p: acks.append(str(reason))
    # Mosquitto answers "Not authorized" (MQTT 5) and then drops the connection.
    forger.publish("forecourt/v1/b/event/rating", b'{"forged": true}', qos=1)
    honest = connect(broker, "a")
    try:
        publish(honest, "forecourt/v1/a/event/rating", b'{"own": true}')
        assert recorder.wait_for(lambda msgs: any(t == "forecourt/v1/a/event/rating" for t, _, _ in msgs))
        # The own message arrived after the forged one was sent, so the forged one had its chance.
        topics = [t for t, _, _ in recorder.messages]
        assert "forecourt/v1/b/event/rating" not in topics
        assert acks == ["Not authorized"]
    finally:
        forger.loop_stop()
        honest.loop_stop()
        recorder.close()


def test_anonymous_and_wrong_password_are_refused(broker):
    with pytest.raises(Refused):
        connect(broker, None)
    with pytest.raises(Refused):
        connect(broker, "a", "not-the-password")


def test_station_cannot_read_the_fleet(broker):
    spy = Recorder(broker, username="b")
    a = connect(broker, "a")
    try:
        publish(a, "forecourt/v1/a/event/rating", b"{}")
        collector = Recorder(broker)
        publish(a, "forecourt/v1/a/event/cleaning", b"{}")
        assert collector.wait_for(lambda msgs: len(msgs) >= 1)
        assert spy.messages == []
        collector.close()
    finally:
        a.loop_stop()
        spy.close()


def test_password_file_is_private_and_in_mosquitto_format(tmp_path):
    broker = Mosquitto(tmp_path, users={"a": "pw"})
    passwd = tmp_path / "passwd"
    assert passwd.stat().st_mode & 0o077 == 0
    user, hashed = passwd.read_text().strip().split(":", 1)
    assert user == "a" and hashed.startswith("$7$101$") and verify_password("pw", hashed)
    assert not verify_password("other", hashed)
    assert broker.process is None
