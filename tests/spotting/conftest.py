"""Make the plain oracles next to these tests importable (``from spotting_oracles import ...``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
