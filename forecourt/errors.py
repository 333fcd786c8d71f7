"""One root exception; each leaf also subclasses the builtin it resembles (gpiozero's habit)."""


class ForecourtError(Exception):
    """Base of every error Forecourt raises on purpose."""


class ConfigError(ForecourtError, ValueError):
    """A configuration file or value is invalid; the message names the key path."""


class ProtocolError(ForecourtError, ValueError):
    """A wire message does not follow protocol v1; the message says why."""


class BrokerError(ForecourtError, RuntimeError):
    """The MQTT broker could not be started, reached or authenticated against."""


class ModelError(ForecourtError, FileNotFoundError):
    """A detector model is missing or unusable."""
