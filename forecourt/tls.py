"""TLS for MQTT clients of the chain's broker: an ``ssl.SSLContext`` from a CA file and an optional
client certificate (mutual TLS, as systemd/mosquitto/forecourt.conf requires on its TLS listener).

paho takes the context as is (``client.tls_set_context(ctx)``), so the edge publisher and the collector
share one way of reading certificates and one set of error messages.
"""

import ssl
from pathlib import Path

from forecourt.errors import ConfigError


def client_context(
    *, ca_file: Path | None = None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """Verify the broker against ``ca_file`` (the system store when None) and its host name; present
    ``cert_file``/``key_file`` when given (mutual TLS). Errors name the file and what is wrong with it."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file is not None:
        _must_exist("ca_file", ca_file)
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except ssl.SSLError as err:
            raise ConfigError(f"mqtt.ca_file: {ca_file} is not a PEM CA certificate ({err.reason})") from None
        except OSError as err:
            raise ConfigError(f"mqtt.ca_file: {ca_file} cannot be read: {err.strerror}") from None
    if key_file is not None and cert_file is None:
        raise ConfigError("mqtt.key_file is set but mqtt.cert_file is not: a client key needs its certificate")
    if cert_file is not None:
        _must_exist("cert_file", cert_file)
        if key_file is not None:
            _must_exist("key_file", key_file)
        try:
            context.load_cert_chain(certfile=str(cert_file), keyfile=str(key_file) if key_file else None)
        except ssl.SSLError as err:
            raise ConfigError(
                f"mqtt.cert_file/key_file: {cert_file} and {key_file or 'its key'} are not a PEM certificate "
                f"and the private key that belongs to it ({err.reason})"
            ) from None
        except OSError as err:  # typically a key readable only by root while the service runs as forecourt
            raise ConfigError(f"mqtt.cert_file/key_file: {err.filename or cert_file} cannot be read: {err.strerror}") from None
    return context


def _must_exist(key: str, path: Path) -> None:
    if not Path(path).is_file():
        raise ConfigError(f"mqtt.{key}: {path}: no such file")
