# Shared by every phase: config validation, the configured pipeline (comedian.workflow: the games
# table, the runs and every input function) and the wildcard constraints. The rules files use
# the names defined here: P (comedian.paths, every results path), pipeline (its get_* input
# functions and params functions) and the params helpers imported below. Real SoccerNet game
# names hold spaces and quotes: they are never a wildcard, only the slug is; paths reach shell
# commands through named inputs quoted with :q.

import os
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

from comedian import paths as P
from comedian.workflow import (
    ALL_CORES,
    Pipeline,
    input_folder,
    launch_geometry,
    launch_prefix,
    nms_args,
    output_folder,
    sets,
)

min_version("8.0")

# The rules run `python -m comedian <stage>` with the interpreter that runs Snakemake: its folder
# goes first on the PATH of every job, so `.venv/bin/snakemake` works without activating the
# environment and never reaches another `python`. Cluster jobs rerun Snakemake with the same
# interpreter, which sets the same PATH there. (Not resolved: a venv's python is a symlink.)
os.environ.update(
    PATH=os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", "")))
)


validate(config, "../schemas/config.schema.yaml")

# The games table, the runs (config `runs`) and the spotting settings, checked; every input
# function of the rules is a method of it (pipeline.get_*).
pipeline = Pipeline(config)


validate(pipeline.games, "../schemas/games.schema.yaml")


wildcard_constraints:
    game="[a-z0-9_]+",
    half="[12]",
    split="train|valid|test|challenge",
    run="[A-Za-z0-9_.-]+",
    fps="[0-9]+",
    size="(_[0-9]+x[0-9]+)?",
