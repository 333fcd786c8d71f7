"""``HOST:PORT`` that an HTTP server of Forecourt listens on (the station page; the collector's API has the
same rule in cloud/config.py): parsed once, with a message that shows the expected form."""

import ipaddress
import re
from dataclasses import dataclass

_LISTEN = re.compile(r"(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})")


@dataclass(frozen=True)
class ListenAddress:
    host: str  # without the brackets of an IPv6 literal
    port: int

    @property
    def loopback(self) -> bool:
        """Reachable from this machine only (a name other than localhost may resolve anywhere)."""
        try:
            return self.host == "localhost" or ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_listen(value: str, example: str = "127.0.0.1:8080") -> ListenAddress:
    match = _LISTEN.fullmatch(value)
    if not match:
        raise ValueError(f"{value!r} is not HOST:PORT, e.g. {example}")
    return ListenAddress(match.group(1).strip("[]"), int(match.group(2)))
