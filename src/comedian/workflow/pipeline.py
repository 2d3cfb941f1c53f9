"""The workflow as configured: the games table, the runs, the spotting settings, and every input
and params function of the rules that reads them.

Usage (rules/common.smk builds the one instance; every rules file uses it):
    pipeline = Pipeline(config)
    rule teacher:
        input:
            unpack(pipeline.get_init("teacher")),     # a local starting-weights file, if any
            stores=pipeline.get_frames(2, "train"),   # the 2 fps stores of the train games
            labels=pipeline.get_labels("train"),
    rule predict:
        input:
            stores=pipeline.get_frames(2, "{split}"), # "{split}": the job's own split
    rule all:
        input:
            pipeline.final_targets(),

Input functions (``get_*``) take the job's wildcards and return paths of the DAG
(:mod:`comedian.paths`); params functions return what the shell command needs (real paths of
the dataset, ``--set`` words). A split written ``"{split}"`` stands for the job's ``{split}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from comedian import hub, paths
from comedian.config import apply_overrides
from comedian.data.soccernet import HALVES, LABELS_NAME, VIDEO_NAMES
from comedian.models.registry import check_run_arch
from comedian.stages import games as games_stage
from comedian.stages import nms as nms_stage
from comedian.stages import sweep as sweep_stage
from comedian.workflow.params import Wildcards, init_option, one_of, sets
from comedian.workflow.targets import (
    evaluation_targets,
    report_targets,
    run_stages,
    timeline_games,
    training_logs,
)

InputFunction = Callable[[Wildcards], Any]

#: Run-level settings passed to every training stage of a run.
RUN_KEYS = ("arch", "model", "seed")


def on_hub(ref: str | None) -> bool:
    """A weights reference that names a Hub file (hf://... or a released short name,
    comedian.hub): the stage downloads it into the Hugging Face cache, so it is no file of
    the DAG."""
    return bool(ref) and hub.hub_file(ref) is not None


def weights_input(key: str, ref: str | None) -> dict[str, str]:
    """Input entry of a weights reference: the local file, nothing for a Hub file."""
    return {key: ref} if ref and not on_hub(ref) else {}


class Pipeline:
    """The configured workflow (``config`` as validated by schemas/config.schema.yaml).

    Model runs (config ``runs``): each name is a ``{run}``. A run trains (finetune_head ->
    finetune) unless it names ``weights`` (an exported model or a released reference
    checkpoint), in which case only predict -> nms -> evaluate run for it. A run with
    ``pretrain`` (true, or a mapping of pretrain overrides) is pretrained by steps 1-2 first
    (pretrain -> distill); only the ViViT has a spatial ViT and a temporal stage to pretrain,
    and the shared teacher reads the 4 fps stores.

    Raises:
        ValueError: naming the config key, for a pretrained run that is no vivit_tiny or also
            names ``init``, or decode rates without the teacher's 4 fps.
        ConfigError: for a bad games, NMS or sweep setting (from the stage configs).
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        dataset = config["dataset"]
        self.source: str = dataset["source"]
        self.data_root = Path(dataset["root"])
        #: The games stage's section, as the rule games passes it.
        self.games_section = {
            "source": dataset["source"],
            "splits": dataset["splits"],
            "synth": config.get("synth", {}),
        }
        games_cfg = apply_overrides(games_stage.Config(), self.games_section)
        self.games = games_stage.build_table(games_cfg).set_index("slug", drop=False)
        # slug -> real game path; a dict, because input functions run for every job of the DAG
        self.game_paths: dict[str, str] = dict(
            zip(self.games["slug"], self.games["path"], strict=True)
        )

        self.runs: dict[str, dict[str, Any]] = config.get("runs", {}) or {}
        self.trained_runs = [name for name, run in self.runs.items() if not run.get("weights")]
        self.pretrained_runs = [n for n in self.trained_runs if self.runs[n].get("pretrain")]
        self._check_runs()
        # Training reads the train split and validates on valid when the dataset has it.
        self.train_splits = tuple(s for s in ("train", "valid") if s in dataset["splits"])

        self.spotting: dict[str, Any] = config.get("spotting", {})
        # The stage dataclasses hold the paper's defaults; config overrides them (unknown keys
        # and bad values fail here, when the workflow is parsed).
        self.nms = apply_overrides(nms_stage.Config(), self.spotting.get("nms", {}))
        self.sweep = apply_overrides(sweep_stage.Config(), self.spotting.get("sweep", {}))
        self.ensembles: dict[str, list[str]] = self.spotting.get("ensembles", {}) or {}
        # Runs and ensembles in results/summary.tsv, on the evaluated splits.
        self.summary_runs = list(self.runs) + list(self.ensembles)
        self.summary_splits = [
            s for s in self.spotting.get("splits", ["test"]) if s in dataset["splits"]
        ]
        # Timelines: report.timeline_games games of the test split (or the last evaluated one).
        count = (config.get("report", {}) or {}).get("timeline_games", 3)
        self.timelines = timeline_games(self.games, self.summary_splits, count)

    def _check_runs(self) -> None:
        for name in self.trained_runs:
            run = self.runs[name]
            check_run_arch(f"config runs.{name}", run.get("arch", "vivit_tiny"),
                           bool(run.get("pretrain")))  # fmt: skip
        for name in self.pretrained_runs:
            run = self.runs[name]
            if run.get("init"):
                raise ValueError(f"config runs.{name}: pretrain and init exclude each other")
        rates = self.config["decode"]["rates"]
        if self.pretrained_runs and 4 not in rates:
            raise ValueError(
                f"config decode.rates: {rates} lacks 4, which the teacher of the "
                f"pretrained runs {self.pretrained_runs} reads"
            )

    # --- wildcard patterns ---------------------------------------------------------------------

    @property
    def run_pattern(self) -> str:
        """``{run}`` of the configured runs (predict)."""
        return one_of(self.runs)

    @property
    def trained_run_pattern(self) -> str:
        """``{run}`` of the trained runs (finetune_head, finetune)."""
        return one_of(self.trained_runs)

    @property
    def pretrained_run_pattern(self) -> str:
        """``{run}`` of the pretrained runs (pretrain, distill)."""
        return one_of(self.pretrained_runs)

    @property
    def ensemble_pattern(self) -> str:
        """``{run}`` of the ensembles (config spotting.ensembles)."""
        return one_of(self.ensembles)

    # --- the dataset ---------------------------------------------------------------------------

    def game_dir(self, game: str) -> Path:
        """The real folder of a game (slug) under the dataset root."""
        return self.data_root / self.game_paths[game]

    def dataset_videos(self) -> list[str]:
        """The videos of every half of every game (the synthetic dataset's outputs)."""
        return [
            f"{self.data_root}/{path}/{video}"
            for path in self.games["path"]
            for video in VIDEO_NAMES.values()
        ]

    def dataset_labels(self) -> list[str]:
        """The Labels-v2.json of every game that has labels (challenge games have none)."""
        labelled = self.games.loc[self.games["split"] != "challenge", "path"]
        return [f"{self.data_root}/{path}/{LABELS_NAME}" for path in labelled]

    def _present_or_download(self, files: Sequence[str], split: str) -> list[str]:
        """Dataset files as DAG inputs: SoccerNet files not there yet are replaced by the
        download of their split (rule download). A file already there is used as it is, so an
        existing SoccerNet tree needs no download and no credentials."""
        if self.source == "synthetic":
            return list(files)
        present = [f for f in files if Path(f).exists()]
        if len(present) < len(files):
            present.append(paths.download_manifest(split))
        return present

    def video_path(self, wildcards: Wildcards) -> str:
        """Params function: the video of {half} of {game} (a path for the shell)."""
        return str(self.game_dir(wildcards.game) / VIDEO_NAMES[int(wildcards.half)])

    def get_video(self, wildcards: Wildcards) -> list[str]:
        """Input function: the video of {half} of {game}, or the download of its split.

        Synthetic videos are made by the rule synth; a SoccerNet video that is not there yet
        makes the decode job wait for the download of its split.
        """
        split = self.games.loc[wildcards.game, "split"]
        return self._present_or_download([self.video_path(wildcards)], split)

    def labels_path(self, wildcards: Wildcards) -> str:
        """Params function: the Labels-v2.json of {game}."""
        return str(self.game_dir(wildcards.game) / LABELS_NAME)

    def get_game_labels(self, wildcards: Wildcards) -> list[str]:
        """Input function: the Labels-v2.json of {game} (or the download of its split)."""
        split = self.games.loc[wildcards.game, "split"]
        return self._present_or_download([self.labels_path(wildcards)], split)

    def labels(self, splits: Iterable[str]) -> list[str]:
        """The Labels-v2.json files of the games of ``splits`` (or their downloads)."""
        out = []
        for split in splits:
            games = self.games[self.games["split"] == split]
            files = [str(self.data_root / p / LABELS_NAME) for p in games["path"]]
            out += self._present_or_download(files, split)
        return out

    def get_labels(self, *splits: str) -> InputFunction:
        """Input function: the labels of the games of ``splits`` (or their downloads)."""

        def get(wildcards: Wildcards) -> list[str]:
            return self.labels(_fill(splits, wildcards))

        return get

    def game_path(self, wildcards: Wildcards) -> str:
        """Params function: the real game path of {game} (its folder in the results trees)."""
        return self.game_paths[wildcards.game]

    def timeline_videos(self, wildcards: Wildcards) -> list[str]:
        """Params function: both videos of {game} (linked from its match page, not inputs: a
        page without its video still lists the events)."""
        return [str(self.game_dir(wildcards.game) / VIDEO_NAMES[h]) for h in HALVES]

    # --- per-half files ------------------------------------------------------------------------

    def halves(self, pattern: str, splits: Iterable[str] | None = None) -> list[str]:
        """``pattern`` (with ``{game}`` and ``{half}``) for every half of the games of
        ``splits`` (every game when None), in the games table's order."""
        games = self.games
        if splits is not None:
            games = games[games["split"].isin(list(splits))]
        return [pattern.format(game=game, half=half) for game in games["slug"] for half in HALVES]

    # Frame stores (method.md §0). Pretraining (step 1) takes a random resized crop of the
    # whole frame: it reads the 2 fps stores at decode.size (results/decode/2fps/). Every other
    # stage squashes frames to the model's input size: it reads the stores at decode.clip_size
    # (absent or null: the same stores), in results/decode/<fps>fps_<H>x<W>/ when that size is
    # not decode.size (``clip_store``, the folder suffix; the rule decode reads it back).

    @property
    def clip_store(self) -> str:
        """The folder suffix of the clip stages' stores: "" or ``_<H>x<W>``."""
        decode = self.config["decode"]
        size = decode.get("clip_size")
        return "" if size in (None, decode.get("size")) else "_{}x{}".format(*size)

    def frames(
        self, rate: int, splits: Iterable[str] | None = None, *, clip: bool = True
    ) -> list[str]:
        """The frame stores at ``rate`` fps of every half of the games of ``splits``: the clip
        stages' (``clip``), or those at decode.size (pretraining's)."""
        size = self.clip_store if clip else ""
        return self.halves(paths.frames(rate, size=size), splits)

    def get_frames(self, rate: int, *splits: str, clip: bool = True) -> InputFunction:
        """Input function: the ``rate`` fps frame stores of the games of ``splits`` (see
        :meth:`frames`)."""

        def get(wildcards: Wildcards) -> list[str]:
            return self.frames(rate, _fill(splits, wildcards), clip=clip)

        return get

    def clip_frames_dir(self, rate: int) -> str:
        """The ``--frames`` folder of the clip stages at ``rate`` fps."""
        return paths.frames_dir(rate, self.clip_store)

    def decode_sets(self, wildcards: Wildcards) -> str:
        """Params function of the rule decode: the decode section as ``--set`` items for one
        store; a folder suffix ``_<H>x<W>`` (a store at decode.clip_size) sets its size."""
        section = dict(self.config["decode"])
        if wildcards.size:
            section["size"] = [int(v) for v in wildcards.size[1:].split("x")]
        return sets(section, skip=("rates", "clip_size"))

    # --- runs ----------------------------------------------------------------------------------

    def run_sets(self, stage: str) -> Callable[[Wildcards], str]:
        """Params function: `--set` items of a training stage for {run}: the stage's config
        section, then the run's arch/model/seed, then the run's own overrides of that stage."""

        def params(wildcards: Wildcards) -> str:
            run = self.runs[wildcards.run]
            shared = {k: run[k] for k in RUN_KEYS if k in run}
            own = run.get(stage)  # `pretrain: true` is a flag, a mapping holds overrides
            return " ".join(
                (
                    sets(self.config.get(stage, {})),
                    sets(shared),
                    sets(own if isinstance(own, dict) else {}),
                )
            )

        return params

    def init_ref(self, stage: str, wildcards: Wildcards) -> str | None:
        """The starting weights of ``stage`` (a file or a Hub reference), if any: config
        teacher_init for the shared teacher; for a training stage of {run}, the model of the
        stage before it (e.g. the distilled ViViT for finetune_head of a pretrained run), or
        runs.<run>.init for the run's first stage."""
        if stage == "teacher":
            return self.config.get("teacher_init")
        stages = run_stages(wildcards.run, self.pretrained_runs)
        at = stages.index(stage)
        return (
            paths.model(stages[at - 1], wildcards.run)
            if at
            else self.runs[wildcards.run].get("init")
        )

    def get_init(self, stage: str) -> InputFunction:
        """Input function (for unpack): ``init``, the starting weights of ``stage`` when they
        are a local file."""

        def get(wildcards: Wildcards) -> dict[str, str]:
            return weights_input("init", self.init_ref(stage, wildcards))

        return get

    def init_arg(self, stage: str) -> Callable[[Wildcards], str]:
        """Params function: the ``--init`` option of ``stage`` (empty when it starts afresh)."""

        def params(wildcards: Wildcards) -> str:
            return init_option(self.init_ref(stage, wildcards))

        return params

    def model_ref(self, wildcards: Wildcards) -> str:
        """Params function: the model of {run}: its `weights` (a file or a Hub reference), or
        its fine-tuned model."""
        return self.runs[wildcards.run].get("weights") or paths.model("finetune", wildcards.run)

    def get_model(self, wildcards: Wildcards) -> dict[str, str]:
        """Input function (for unpack): ``model``, the model of {run} when it is a local file."""
        return weights_input("model", self.model_ref(wildcards))

    def predict_sets(self, wildcards: Wildcards) -> str:
        """Params function: the predict section, plus the run's arch for a weights file."""
        run = self.runs[wildcards.run]
        extra = {"arch": run["arch"]} if run.get("weights") and run.get("arch") else {}
        return sets({**self.config.get("predict", {}), **extra, **(run.get("predict", {}) or {})})

    @property
    def no_valid(self) -> str:
        """The training stages' option when the dataset has no valid split."""
        return "" if "valid" in self.train_splits else "--set valid_split=null"

    # --- spotting ------------------------------------------------------------------------------

    def get_raw_scores(self, wildcards: Wildcards) -> str:
        """Input function: the raw scores folder of {run} (a run or an ensemble) on {split}."""
        return paths.raw_scores(wildcards.run, wildcards.split, self.ensembles)

    def get_ensemble_members(self, wildcards: Wildcards) -> list[str]:
        """Input function: the raw scores folders of the runs of ensemble {run} on {split}."""
        members = self.ensembles[wildcards.run]
        return [paths.raw_scores(run, wildcards.split, self.ensembles) for run in members]

    # --- targets -------------------------------------------------------------------------------

    def summary_metrics(self) -> list[str]:
        """The metrics of every run and ensemble on the evaluated splits, at config NMS."""
        return evaluation_targets(self.summary_runs, self.summary_splits, self.nms.slug)

    def training_logs(self) -> list[str]:
        """The per-step logs of every training stage of the trained runs."""
        return training_logs(self.trained_runs, self.pretrained_runs)

    def final_targets(self) -> list[str]:
        """What `rule all` asks for: the games table, every frame store at every decode rate,
        the summary table (when some run is scored on some split) and every report figure
        (plots are cheap)."""
        out = [paths.GAMES_TABLE]
        for rate in self.config["decode"]["rates"]:
            out += self.frames(rate)
        if self.summary_runs and self.summary_splits:
            out.append(paths.SUMMARY)
        return out + report_targets(
            self.summary_runs, self.summary_splits, self.trained_runs, self.nms.slug, self.timelines
        )


def _fill(splits: Iterable[str], wildcards: Wildcards) -> list[str]:
    """``splits`` with ``"{split}"`` replaced by the job's split."""
    return [wildcards.split if split == "{split}" else split for split in splits]
