"""Session fixture: a real one-node SLURM cluster, started once and stopped at the end.

Runs where it can: as root with the Debian packages installed (installed here with apt when
missing). Elsewhere every test of this folder is skipped with the reason.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Helpers of this folder (local_slurm) are imported by name, as in tests/models.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from local_slurm import (  # noqa: E402
    ClusterError,
    SlurmCluster,
    install_packages,
    missing_commands,
)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    if os.geteuid() != 0:
        pytest.skip("SLURM tests start slurmctld/slurmd and need root")
    if missing_commands():
        why = install_packages()
        if why is not None or missing_commands():
            pytest.skip(f"SLURM tests: no munge/slurm packages ({why or missing_commands()})")
    # A short root: slurmd's spool path ends up in socket names (108-byte limit).
    root = Path(tmp_path_factory.mktemp("slurm", numbered=True))
    cluster = SlurmCluster(root)
    try:
        cluster.start()
    except ClusterError as err:
        cluster.stop()
        pytest.skip(f"SLURM tests: the local cluster did not start: {err}")
    try:
        yield cluster
    finally:
        cluster.stop()
