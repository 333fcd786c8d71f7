"""Loading TOML config into pydantic models, with errors that name the key path.

Connection settings (broker URL, database path, HTTP listen address) may be overridden by
command-line flags and ``FORECOURT_*`` environment variables so a service can be pointed
elsewhere without editing its file. Precedence: flag > environment > file.
"""

import hashlib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from forecourt.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def key_path(loc: tuple[Any, ...]) -> str:
    """``("restrooms", 1, "button_pin")`` -> ``restrooms[1].button_pin``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def describe_errors(err: ValidationError) -> str:
    lines = []
    for item in err.errors(include_url=False):
        # Model-level validators raise with the offending path as their message prefix ("a.b: ...").
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            msg = "unknown key (misspelt?)"
        elif item["type"] == "missing":
            msg = "required key is missing"
        path = key_path(loc)
        lines.append(f"{path}: {msg}" if path else msg)
    return "\n".join(lines)


def load_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except OSError as err:  # e.g. readable by root only while the service runs as forecourt
        raise ConfigError(f"{path}: cannot be read: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start}); "
                          "a config file is TOML in UTF-8") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf] = value


def apply_overrides(
    data: dict[str, Any], overrides: Mapping[str, tuple[str, str | None]], env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``overrides`` maps a dotted key to (environment variable, flag value); flag beats environment."""
    env = os.environ if env is None else env
    for dotted, (variable, flag) in overrides.items():
        value = flag if flag is not None else env.get(variable)
        if value is not None:
            set_path(data, dotted, value)
    return data


def validate(model: type[Model], data: dict[str, Any], source: str = "config") -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{source}:\n{describe_errors(err)}") from None


def config_hash(model: BaseModel) -> str:
    """A short stable fingerprint of the effective config, sent in the birth message."""
    return hashlib.sha256(model.model_dump_json().encode()).hexdigest()[:12]
