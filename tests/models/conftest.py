"""Model tests: make the helper modules beside this file importable.

The suite runs with ``--import-mode=importlib``, which does not put test folders on
``sys.path``; the helpers (``tiny_models``, ``reference_tables``) hold data used at collection
time (parametrize lists), so they are plain modules rather than fixtures.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
