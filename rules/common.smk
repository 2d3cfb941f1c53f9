# Shared by every phase: config validation, the games table, wildcard constraints and input
# functions. Real SoccerNet game names hold spaces and quotes: they are never a wildcard, only
# the slug is; paths reach shell commands through named inputs quoted with :q.

import json
import re
import shlex
from pathlib import Path

from snakemake.utils import min_version, validate

from comedian.config import apply_overrides
from comedian.data.soccernet import HALVES, LABELS_NAME, VIDEO_NAMES
from comedian.stages import games as games_stage

min_version("8.0")


validate(config, "../schemas/config.schema.yaml")

DATA_ROOT = Path(config["dataset"]["root"])
GAMES_CONFIG = apply_overrides(
    games_stage.Config(),
    {
        "source": config["dataset"]["source"],
        "splits": config["dataset"]["splits"],
        "synth": config.get("synth", {}),
    },
)
GAMES = games_stage.build_table(GAMES_CONFIG).set_index("slug", drop=False)
# slug -> real game path; a dict, because input functions run for every job of the DAG
GAME_PATHS = dict(zip(GAMES["slug"], GAMES["path"]))


validate(GAMES, "../schemas/games.schema.yaml")


wildcard_constraints:
    game="[a-z0-9_]+",
    half="[12]",
    split="train|valid|test|challenge",
    run="[A-Za-z0-9_.-]+",
    fps="[0-9]+",


def sets(section, skip=()):
    """Render a config section as `--set key=value` arguments (values as JSON, shell-quoted)."""
    return " ".join(
        f"--set {shlex.quote(f'{key}={json.dumps(value)}')}"
        for key, value in section.items()
        if key not in skip
    )


def game_dir(game):
    """The real folder of a game (slug) under the dataset root."""
    return DATA_ROOT / GAME_PATHS[game]


def video(wildcards):
    """The video of one half of one game (a path for the shell, via params)."""
    return str(game_dir(wildcards.game) / VIDEO_NAMES[int(wildcards.half)])


def video_input(wildcards):
    """Input function: the video as a DAG input.

    Synthetic videos are made by the rule synth. SoccerNet videos are downloaded beforehand;
    a missing one is left out of the DAG, so that `snakemake -n` can plan the paper's 550 games
    on a machine without the videos, and the decode job then fails naming the missing file.
    """
    path = video(wildcards)
    if config["dataset"]["source"] == "synthetic" or Path(path).exists():
        return [path]
    return []


def labels(wildcards):
    """Input function: the Labels-v2.json of one game."""
    return str(game_dir(wildcards.game) / LABELS_NAME)


def decoded_stores(rates=None, splits=None):
    """Frame stores of every half of every game (of `splits`) at every decode rate."""
    rates = config["decode"]["rates"] if rates is None else rates
    games = GAMES if splits is None else GAMES[GAMES["split"].isin(splits)]
    return expand(
        "results/decode/{fps}fps/{game}/{half}.frames",
        fps=rates,
        game=games["slug"],
        half=HALVES,
    )


# Model runs (config `runs`): each name is a {run}. A run trains (finetune_head -> finetune)
# unless it names `weights` (an exported model or a released reference checkpoint), in which
# case only predict -> nms -> evaluate run for it.
RUNS = config.get("runs", {}) or {}
TRAINED_RUNS = [name for name, run in RUNS.items() if not run.get("weights")]
# Wildcard patterns of trained runs (a pattern that matches nothing when there is none).
TRAINED_RUN_PATTERN = "|".join(re.escape(name) for name in TRAINED_RUNS) or "(?!x)x"
RUN_PATTERN = "|".join(re.escape(name) for name in RUNS) or "(?!x)x"
RUN_KEYS = ("arch", "model", "seed")  # run-level settings passed to the training stages
# Runs pretrained by steps 1-2 (runs.<run>.pretrain: true, or a mapping of pretrain overrides):
# pretrain -> distill -> finetune_head. Only the ViViT has a spatial ViT and a temporal stage to
# pretrain, and the shared teacher reads the 4 fps stores.
PRETRAINED_RUNS = [name for name in TRAINED_RUNS if RUNS[name].get("pretrain")]
PRETRAINED_RUN_PATTERN = (
    "|".join(re.escape(name) for name in PRETRAINED_RUNS) or "(?!x)x"
)
for _name in PRETRAINED_RUNS:
    if RUNS[_name].get("arch", "vivit_tiny") != "vivit_tiny":
        raise ValueError(
            f"config runs.{_name}: pretrain needs arch vivit_tiny, not {RUNS[_name]['arch']}"
        )
    if RUNS[_name].get("init"):
        raise ValueError(f"config runs.{_name}: pretrain and init exclude each other")
if PRETRAINED_RUNS and 4 not in config["decode"]["rates"]:
    raise ValueError(
        f"config decode.rates: {config['decode']['rates']} lacks 4, which the teacher of the "
        f"pretrained runs {PRETRAINED_RUNS} reads"
    )


def run_sets(stage):
    """Params function: `--set` items of a training stage for {run}: the stage's config
    section, then the run's arch/model/seed, then the run's own overrides of that stage.
    """

    def params(wildcards):
        run = RUNS[wildcards.run]
        shared = {k: run[k] for k in RUN_KEYS if k in run}
        own = run.get(stage)  # `pretrain: true` is a flag, a mapping holds overrides
        return " ".join(
            (
                sets(config.get(stage, {})),
                sets(shared),
                sets(own if isinstance(own, dict) else {}),
            )
        )

    return params


def split_stores(*splits):
    """Input function: the 2 fps frame stores of the games of `splits`."""

    def stores(wildcards):
        return decoded_stores(rates=[2], splits=splits)

    return stores


def split_labels_of(*splits):
    """The Labels-v2.json files of the games of `splits`."""
    games = GAMES[GAMES["split"].isin(splits)]
    return [str(DATA_ROOT / p / LABELS_NAME) for p in games["path"]]
