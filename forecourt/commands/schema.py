"""Print the JSON Schema of every protocol v1 message, or write one file per message to a folder."""

import argparse
import json
from pathlib import Path

from forecourt.protocol import EVENT_KINDS, ConfigDocument, ConfigState, Health, Status, StorageAck


def schemas() -> dict[str, dict]:
    out = {f"event-{kind}": cls.model_json_schema() for kind, cls in EVENT_KINDS.items()}
    out["status"] = Status.model_json_schema()
    out["health"] = Health.model_json_schema()
    out["ack"] = StorageAck.model_json_schema()
    out["config"] = ConfigDocument.model_json_schema()
    out["config_state"] = ConfigState.model_json_schema()
    return out


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="folder to write <message>.schema.json files into")


def run(args: argparse.Namespace) -> int:
    every = schemas()
    if args.out is None:
        print(json.dumps(every, indent=2))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in every.items():
        (args.out / f"{name}.schema.json").write_text(json.dumps(schema, indent=2) + "\n")
    return 0
