# Shared by every phase: config validation, the games table, wildcard constraints and input
# functions. Real SoccerNet game names hold spaces and quotes: they are never a wildcard, only
# the slug is; paths reach shell commands through named inputs quoted with :q.

import json
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

from comedian import hub, paths
from comedian.launch import srun_prefix, stage_geometry
from comedian.spotting.workflow import split_labels_input
from comedian.config import apply_overrides
from comedian.data.soccernet import HALVES, LABELS_NAME, VIDEO_NAMES
from comedian.stages import games as games_stage

min_version("8.0")

# The rules run `python -m comedian <stage>` with the interpreter that runs Snakemake: its folder
# goes first on the PATH of every job, so `.venv/bin/snakemake` works without activating the
# environment and never reaches another `python`. Cluster jobs rerun Snakemake with the same
# interpreter, which sets the same PATH there. (Not resolved: a venv's python is a symlink.)
os.environ.update(
    PATH=os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", "")))
)


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
    size="(_[0-9]+x[0-9]+)?",


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

    Synthetic videos are made by the rule synth. A SoccerNet video that is not there yet makes
    the decode job wait for the download of its split (rule download); a video already there
    is used as it is, so an existing SoccerNet tree needs no download and no credentials.
    """
    path = video(wildcards)
    if config["dataset"]["source"] == "synthetic" or Path(path).exists():
        return [path]
    return [f"results/download/{GAMES.loc[wildcards.game, 'split']}.tsv"]


def labels(wildcards):
    """Input function: the Labels-v2.json of one game."""
    return str(game_dir(wildcards.game) / LABELS_NAME)


# Frame stores (method.md §0). Pretraining (step 1) takes a random resized crop of the whole
# frame: it reads the 2 fps stores at decode.size, results/decode/2fps/. Every other stage
# squashes frames to the model's input size: it reads the stores at decode.clip_size (absent or
# null: the same stores), which live in results/decode/<fps>fps_<H>x<W>/ when that size is not
# decode.size (CLIP_STORE, the folder suffix; the rule decode reads the size back from it).
CLIP_SIZE = config["decode"].get("clip_size")
CLIP_STORE = (
    ""
    if CLIP_SIZE in (None, config["decode"].get("size"))
    else "_{}x{}".format(*CLIP_SIZE)
)


def decoded_stores(rates=None, splits=None, store=None):
    """Frame stores of every half of every game (of `splits`) at every decode rate: the clip
    stages' (`store` None: CLIP_STORE), or pretraining's (`store` "")."""
    rates = config["decode"]["rates"] if rates is None else rates
    games = GAMES if splits is None else GAMES[GAMES["split"].isin(splits)]
    return expand(
        "results/decode/{fps}fps{size}/{game}/{half}.frames",
        fps=rates,
        size=[CLIP_STORE if store is None else store],
        game=games["slug"],
        half=HALVES,
    )


def clip_frames_dir(fps):
    """The folder of the stores at `fps` that the clip stages read (see CLIP_STORE)."""
    return paths.FRAMES_DIR.format(fps=fps) + CLIP_STORE


def decode_sets(wildcards):
    """Params function: the decode section as `--set` items for one store; a folder suffix
    `_<H>x<W>` (a store at decode.clip_size) sets its size."""
    section = dict(config["decode"])
    if wildcards.size:
        section["size"] = [int(v) for v in wildcards.size[1:].split("x")]
    return sets(section, skip=("rates", "clip_size"))


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


def split_stores(*splits, store=None):
    """Input function: the 2 fps frame stores of the games of `splits` (the clip stages', or
    pretraining's with `store` "")."""

    def stores(wildcards):
        return decoded_stores(rates=[2], splits=splits, store=store)

    return stores


def present_or_download(files, split):
    """Dataset files as DAG inputs: SoccerNet files not there yet are replaced by the download
    of their split (rule download), like the videos (video_input)."""
    if config["dataset"]["source"] == "synthetic":
        return list(files)
    present = [f for f in files if Path(f).exists()]
    if len(present) < len(files):
        present.append(f"results/download/{split}.tsv")
    return present


def split_labels_of(*splits):
    """The Labels-v2.json files of the games of `splits` (or their downloads)."""
    out = []
    for split in splits:
        games = GAMES[GAMES["split"] == split]
        out += present_or_download(
            [str(DATA_ROOT / p / LABELS_NAME) for p in games["path"]], split
        )
    return out


def on_hub(ref):
    """A weights reference that names a Hub file (hf://... or a released short name,
    comedian.hub): the stage downloads it into the Hugging Face cache, so it is no file of
    the DAG."""
    return bool(ref) and hub.hub_file(ref) is not None


def weights_input(key, ref):
    """Input entry of a weights reference: the local file, nothing for a Hub file."""
    return {key: ref} if ref and not on_hub(ref) else {}


def run_init(run):
    """The trunk init of a run: its distilled ViViT when it is pretrained, else runs.<run>.init."""
    if run in PRETRAINED_RUNS:
        return paths.MODEL.format(stage="distill", run=run)
    return RUNS[run].get("init")


def finetune_head_init(wildcards):
    """Input function: the trunk init of {run} (a local file), if any."""
    return weights_input("init", run_init(wildcards.run))


def init_arg(wildcards):
    init = run_init(wildcards.run)
    return f"--init {shlex.quote(init)}" if init else ""


def predict_weights(wildcards):
    """The model of {run}: its `weights` (a file or a Hub reference), or its fine-tuned model."""
    run = RUNS[wildcards.run]
    return run.get("weights") or paths.model("finetune", wildcards.run)


def predict_model(wildcards):
    """Input function: the model of {run} when it is a local file."""
    return weights_input("model", predict_weights(wildcards))


def predict_stores(wildcards):
    """Input function: the 2 fps frame stores of {split}."""
    return decoded_stores(rates=[2], splits=[wildcards.split])


def predict_sets(wildcards):
    """Params function: the predict section, plus the run's arch for a weights file."""
    run = RUNS[wildcards.run]
    extra = {"arch": run["arch"]} if run.get("weights") and run.get("arch") else {}
    return sets(
        {**config.get("predict", {}), **extra, **(run.get("predict", {}) or {})}
    )


#: Threads of a rule that takes the whole machine in a local run (training and inference), a
#: fixed count, not workflow.cores, which a cluster executor leaves undefined (reading it fails the
#: whole run under --profile profiles/slurm). Local runs scale it down to --cores; on a cluster
#: the profile's cpus_per_task sizes the job instead.
ALL_CORES = 1024


def launch_prefix(wildcards, resources):
    """Params function: `srun ...` for a multi-process (DDP) rule under SLURM, else empty."""
    return srun_prefix(resources)


def launch_geometry(wildcards, resources):
    """Params function: `--devices G --num-nodes N` from the rule's resources."""
    return stage_geometry(resources)


def teacher_init(wildcards):
    """Input function: the teacher's starting weights (config teacher_init), if a local file."""
    return weights_input("init", config.get("teacher_init"))


def teacher_init_arg(wildcards):
    init = config.get("teacher_init")
    return f"--init {shlex.quote(init)}" if init else ""


def train_stores4(wildcards):
    """Input function: the 4 fps frame stores of the train split (the teacher's windows)."""
    return decoded_stores(rates=[4], splits=["train"])


def bank_folder(key, output=False):
    """Params function: the folder of a feature bank (``<folder>/<game>/<half>.npy``), read
    off the rule's own input (or output) files rather than hard-coded."""

    def folder(wildcards, input):
        files = input[key]
        first = files if isinstance(files, str) else files[0]
        return str(Path(first).parents[1])

    def out_folder(wildcards, output):
        files = output[key]
        first = files if isinstance(files, str) else files[0]
        return str(Path(first).parents[1])

    return out_folder if output else folder


_split_labels = split_labels_input(GAMES, DATA_ROOT)


def split_labels(wildcards):
    """Input function: the labels of the games of {split} (or their download)."""
    return present_or_download(_split_labels(wildcards), wildcards.split)


def game_labels(wildcards):
    """Input function: the Labels-v2.json of {game} (or the download of its split)."""
    return present_or_download([labels(wildcards)], GAMES.loc[wildcards.game, "split"])
