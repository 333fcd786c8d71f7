"""The settings document a station applied, kept beside its outbox so restarts and power cuts keep it.

One small JSON file, ``<outbox stem>.fleet.json`` next to the outbox (so several stations sharing a data
directory, as the demo's do, keep theirs apart): ``{"document": <ConfigDocument>, "applied_at": ts}``.
Replaced atomically (a temporary file, fsynced, renamed over the old one, then the directory fsynced so
the rename itself survives the power going): after a crash it holds the old document or the new one,
never half of either. The station writes it *before* it reports a document applied, so HQ is never told
"applied" about a document a power cut then forgets.

An outbox in memory (``:memory:``, tests and tools) keeps the document in memory only.
"""

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from forecourt.files import write_private
from forecourt.protocol import ConfigDocument

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kept:
    document: ConfigDocument
    applied_at: str  # protocol timestamp: when the station first applied it


class AppliedStore:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: Kept | None = None

    @classmethod
    def beside(cls, outbox_path: Path) -> "AppliedStore":
        if str(outbox_path) == ":memory:":
            return cls(None)
        return cls(outbox_path.with_name(f"{outbox_path.stem}.fleet.json"))

    def load(self) -> Kept | None:
        """The document applied last, or None (never one, or the file is unreadable: said in the log)."""
        if self.path is None:
            return self._memory
        try:
            body = json.loads(self.path.read_text(encoding="utf-8"))
            return Kept(ConfigDocument.model_validate(body["document"]), str(body["applied_at"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as err:
            # Written atomically, so this is a damaged card or a hand edit: run by the file until HQ sends one.
            log.error("ignoring the applied settings in %s, which cannot be read: %s", self.path, err)
            return None

    def save(self, kept: Kept) -> None:
        """Durable when it returns (raises OSError when it cannot be: the caller must not report it applied)."""
        if self.path is None:
            self._memory = kept
            return
        text = json.dumps({"document": kept.document.model_dump(mode="json"), "applied_at": kept.applied_at}, indent=1)
        write_private(self.path, text + "\n")
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename is in the directory: without this a power cut may undo it
        finally:
            os.close(directory)
