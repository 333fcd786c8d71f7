"""Which tree's code the tracking bench runs: this checkout's, or another revision's for ``--forecourt-ref``.

``--forecourt-ref REV`` runs ``bench/tracking.py --job`` with ``FORECOURT_TREE`` naming a ``git archive`` of
REV; its ``edge`` and ``examples/station.toml`` must then win over this checkout's. Importing this module puts
that tree first on ``sys.path``, so every bench module imports it before anything from ``edge``.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("FORECOURT_TREE") or HERE.parent)  # another tree's code, for --forecourt-ref jobs
sys.path.insert(0, str(ROOT))
