"""The layers stay apart: the station's code never imports HQ's and vice versa, and the shared layer
(protocol, connection kit, settings, errors) imports neither. Only the composition roots (the CLI's
commands and the demo) may wire both ends together. ``models`` only names the bundled files, so the
edge can import it without pulling in anything; the tools that build those files (``tools``) may
use the edge, never the other way round."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPOSITION_ROOTS = ("forecourt/commands/", "forecourt/demo/", "forecourt/cli.py", "forecourt/__main__.py")
FORBIDDEN = {
    "edge": {"cloud", "tools"}, "cloud": {"edge", "tools"}, "forecourt": {"edge", "cloud", "tools"},
    "models": {"edge", "cloud", "forecourt", "tools"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level package of every import in the file, wherever it sits (functions included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def modules() -> list[Path]:
    every = (p for package in FORBIDDEN for p in (ROOT / package).rglob("*.py"))
    return sorted(p for p in every if not p.relative_to(ROOT).as_posix().startswith(COMPOSITION_ROOTS))


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_layers_do_not_import_each_other(path):
    relative = path.relative_to(ROOT).as_posix()
    layer = relative.split("/")[0]
    crossing = imported_packages(path) & FORBIDDEN[layer]
    assert not crossing, f"{relative} ({layer}) imports {sorted(crossing)}"


def test_the_rule_sees_an_import_inside_a_function(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def later():\n    from cloud.store import open_db\n    import edge.config\n")
    assert imported_packages(sample) == {"cloud", "edge"}
