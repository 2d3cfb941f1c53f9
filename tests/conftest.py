"""Make the small helper modules of tests/ importable from every test (``from tiny_spotting import
SPOT_KWARGS``); appended, so that nothing here shadows an installed package."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).parent))
