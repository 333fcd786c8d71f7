"""One round of network I/O for a paho client driven by its owner's thread (paho's external-loop API)."""

import select

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode


def network_round(client: mqtt.Client, wait: float) -> bool:
    """One round of network I/O: read what arrived (up to ``wait`` s), write what is queued, keep alive.

    Returns False once the connection is gone. TLS may hold decrypted bytes that ``select`` cannot see,
    so pending ones are read without waiting (as paho's own loop does).
    """
    sock = client.socket()
    if sock is None:
        return False
    pending = getattr(sock, "pending", None)
    buffered = bool(pending and pending())
    try:
        readable, writable, _ = select.select([sock], [sock] if client.want_write() else [], [], 0.0 if buffered else wait)
    except (OSError, ValueError, TypeError):  # closed under us
        return False
    ok = MQTTErrorCode.MQTT_ERR_SUCCESS
    if (readable or buffered) and client.loop_read() != ok:
        return False
    if writable and client.socket() is not None and client.loop_write() != ok:
        return False
    return client.loop_misc() == ok
