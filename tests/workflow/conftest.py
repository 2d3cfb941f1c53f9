"""Run the real Snakemake workflow in a temporary copy of the repository's workflow files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW_FILES = (
    "Snakefile",
    "rules",
    "schemas",
    "config",
    "profiles",
    "scripts",
    "report",
    "environment.yml",
)


class Workflow:
    """A copy of the workflow in ``root``; ``run(...)`` calls the snakemake of this environment."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        for name in WORKFLOW_FILES:
            src = REPO / name
            if src.is_dir():
                shutil.copytree(src, root / name)
            else:
                shutil.copy2(src, root / name)

    def write_config(self, name: str, doc: dict) -> Path:
        path = self.root / "config" / name
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 900,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        bin_dir = Path(sys.executable).parent
        path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        env = {**os.environ, "PATH": path, **(env or {})}
        proc = subprocess.run(
            [str(bin_dir / "snakemake"), *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}"
                f"\n{proc.stderr[-4000:]}"
            )
        return proc


@pytest.fixture
def workflow(tmp_path: Path) -> Workflow:
    return Workflow(tmp_path / "wf")


@pytest.fixture(scope="module")
def module_workflow(tmp_path_factory: pytest.TempPathFactory) -> Workflow:
    """One copy for the tests of a module that only read the workflow (dry runs, parsing)."""
    return Workflow(tmp_path_factory.mktemp("module") / "wf")
