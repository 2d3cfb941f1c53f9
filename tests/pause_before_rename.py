"""Run ``comedian`` so that it stops, for good, just before it renames its first temporary
file into place: a test can then kill -9 it in a known mid-write state instead of racing it.

Usage (what tests/test_kill_rerun.py runs):
    COMEDIAN_TEST_PAUSED=/tmp/marker python tests/pause_before_rename.py decode --video ...

When the process (or a worker process: the patch is made at import, so spawned workers, which
import this module as their main module, get it too) is about to rename a temporary file
(``comedian.atomic`` names) onto its target, it writes the temporary's path to the marker file
and sleeps until killed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from comedian.atomic import temporary_target

_replace = os.replace


def _paused_replace(src, dst, *args, **kwargs):  # noqa: ANN001, ANN202
    if temporary_target(Path(src).name) is not None and os.path.exists(src):
        marker = os.environ["COMEDIAN_TEST_PAUSED"]
        with open(marker + ".tmp", "w") as f:
            f.write(str(src))
        _replace(marker + ".tmp", marker)
        while True:
            time.sleep(60)
    return _replace(src, dst, *args, **kwargs)


os.replace = _paused_replace

if __name__ == "__main__":
    from comedian.cli import main

    sys.exit(main(sys.argv[1:]))
