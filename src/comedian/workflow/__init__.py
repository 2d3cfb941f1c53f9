"""What the rules (Snakefile, rules/*.smk) need from Python: the configured pipeline with its
input and params functions (:class:`Pipeline`), the shell words that need no configuration
(:mod:`comedian.workflow.params`) and the target lists (:mod:`comedian.workflow.targets`).

Usage (rules/common.smk):
    from comedian.workflow import ALL_CORES, Pipeline, launch_prefix, sets

    pipeline = Pipeline(config)          # games table, runs, spotting settings; checks them
    pipeline.final_targets()             # the inputs of `rule all`

Paths come from :mod:`comedian.paths`; nothing here runs a stage.
"""

from comedian.workflow.params import (
    ALL_CORES,
    NO_MATCH,
    init_option,
    input_folder,
    launch_geometry,
    launch_prefix,
    nms_args,
    one_of,
    output_folder,
    sets,
)
from comedian.workflow.pipeline import Pipeline

__all__ = [
    "ALL_CORES",
    "NO_MATCH",
    "Pipeline",
    "init_option",
    "input_folder",
    "launch_geometry",
    "launch_prefix",
    "nms_args",
    "one_of",
    "output_folder",
    "sets",
]
