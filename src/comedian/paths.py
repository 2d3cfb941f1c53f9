"""Every ``results/...`` path of the pipeline, defined once (rules and stages both use these).

Usage:
    from comedian import paths
    paths.FRAMES                                   # the Snakemake pattern, with {wildcards}
    paths.FRAMES.format(fps=2, game="g", half=1)   # a concrete path
    paths.raw_scores("vivit", "test")              # results/predict/vivit/test/raw
    paths.model("distill")                         # results/distill/{run}/model.pt (a pattern)

One name everywhere: rule = CLI stage = ``stages/<name>.py`` = ``results/<name>/`` (or the one
file ``results/<name>.<ext>``) = ``logs/<name>/`` = ``benchmarks/<name>/``; the report rules
(``plot_*``) share ``results/report/`` and ``logs/report/``, and the rule synth writes the
dataset itself (tests/workflow/test_rule_conventions.py checks every rule).

Patterns use Snakemake wildcards: ``{game}`` (a slug of the games table), ``{half}`` (1|2),
``{split}``, ``{fps}``, ``{run}`` (a named model variant or ensemble) and ``{nms}`` (an NMS
setting slug, :class:`comedian.spotting.settings.NmsSetting`). The functions fill some wildcards
and leave the others (``run="{run}"``): the rules write every path with them or with the
patterns, never as a literal.

Training stages keep their rolling resume checkpoint in ``RESUME_DIR`` beside their outputs: it
is never a declared output, so a rerun after a crash or a requeue finds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RESULTS = "results"

#: The manifest of a split's download (SoccerNet source): written once its files are in place.
DOWNLOAD_MANIFEST = f"{RESULTS}/download/{{split}}.tsv"
GAMES_TABLE = f"{RESULTS}/games/games.tsv"
#: A frame store inside a decode folder (``results/decode/<fps>fps/``), and the full pattern.
STORE_IN_DIR = "{game}/{half}.frames"
FRAMES_DIR = f"{RESULTS}/decode/{{fps}}fps"
FRAMES = f"{FRAMES_DIR}/{STORE_IN_DIR}"
#: The rule decode's output: ``{size}`` is empty for the stores at ``decode.size`` and
#: ``_<H>x<W>`` for those at ``decode.clip_size`` (the clip stages' stores, when it differs).
DECODED = f"{FRAMES_DIR}{{size}}/{STORE_IN_DIR}"

#: Training stages: ``{stage}`` is finetune_head, finetune (and the pretraining stages).
MODEL = f"{RESULTS}/{{stage}}/{{run}}/model.pt"
LAST_MODEL = f"{RESULTS}/{{stage}}/{{run}}/last.pt"
TRAIN_LOG = f"{RESULTS}/{{stage}}/{{run}}/train_log.csv"
#: Hidden folder of the rolling Lightning checkpoint (``last.ckpt``) of a training stage.
RESUME_DIR = ".resume"

#: Pretraining (method.md §2-5). ``pretrain`` and ``distill`` are per run (MODEL with their
#: stage name); the teacher, its features and their PCA are shared by every run.
TEACHER_MODEL = f"{RESULTS}/teacher/model.pt"
TEACHER_LOG = f"{RESULTS}/teacher/train_log.csv"
#: A per-half feature array inside a features folder, and the full patterns.
BANK_IN_DIR = "{game}/{half}.npy"
FEATURES_DIR = f"{RESULTS}/extract_features"
FEATURES = f"{FEATURES_DIR}/{BANK_IN_DIR}"
PCA_TRANSFORM = f"{RESULTS}/pca/transform.npz"
PCA_DIR = f"{RESULTS}/pca/features"
PCA_FEATURES = f"{PCA_DIR}/{BANK_IN_DIR}"

#: Raw per-half scores of a model run (predict) or of an ensemble of runs (ensemble).
PREDICT_RAW = f"{RESULTS}/predict/{{run}}/{{split}}/raw"
ENSEMBLE_RAW = f"{RESULTS}/ensemble/{{run}}/{{split}}/raw"
NMS = f"{RESULTS}/nms/{{run}}/{{split}}/{{nms}}"
METRICS = f"{RESULTS}/evaluate/{{run}}/{{split}}/{{nms}}/metrics.json"
SWEEP_TABLE = f"{RESULTS}/sweep/{{run}}/{{split}}/sweep.tsv"
SWEEP_HEATMAP = f"{RESULTS}/sweep/{{run}}/{{split}}/heatmap.png"
SUMMARY = f"{RESULTS}/summary.tsv"
#: Figures of the Snakemake report (rules/report.smk).
REPORT_SUMMARY = f"{RESULTS}/report/summary.png"
REPORT_CLASS_AP = f"{RESULTS}/report/class_ap.png"
REPORT_TRAINING = f"{RESULTS}/report/training.png"
REPORT_TIMELINE = f"{RESULTS}/report/timeline/{{run}}/{{split}}/{{nms}}/{{game}}.png"
#: The match viewer page (comedian.viewer) of a timeline game, beside its figure.
REPORT_VIEWER = f"{RESULTS}/report/timeline/{{run}}/{{split}}/{{nms}}/{{game}}.html"


def download_manifest(split: str = "{split}") -> str:
    """The download manifest of ``split``."""
    return DOWNLOAD_MANIFEST.format(split=split)


def frames_dir(fps: int | str = "{fps}", size: str = "") -> str:
    """The folder of the frame stores decoded at ``fps`` (a stage's ``--frames``); ``size``
    is the folder suffix of stores at another size (``_224x224``, see :data:`DECODED`)."""
    return FRAMES_DIR.format(fps=fps) + size


def frames(
    fps: int | str = "{fps}", game: str = "{game}", half: int | str = "{half}", size: str = ""
) -> str:
    """The frame store of one half at ``fps`` (and ``size``, as :func:`frames_dir`)."""
    return f"{frames_dir(fps, size)}/{STORE_IN_DIR.format(game=game, half=half)}"


def model(stage: str, run: str = "{run}") -> str:
    """The exported model (best on valid) of training stage ``stage`` for ``run``."""
    return MODEL.format(stage=stage, run=run)


def last_model(stage: str, run: str = "{run}") -> str:
    """The model of the last epoch of training stage ``stage`` for ``run``."""
    return LAST_MODEL.format(stage=stage, run=run)


def train_log(stage: str, run: str = "{run}") -> str:
    """The per-step CSV log of training stage ``stage`` for ``run``."""
    return TRAIN_LOG.format(stage=stage, run=run)


def raw_scores(run: str, split: str, ensembles: Mapping[str, Sequence[str]] | None = None) -> str:
    """Raw scores folder of a run, or of an ensemble when ``run`` names one."""
    pattern = ENSEMBLE_RAW if ensembles and run in ensembles else PREDICT_RAW
    return pattern.format(run=run, split=split)


def metrics(run: str, split: str, nms: str) -> str:
    """``metrics.json`` of one run, split and NMS setting slug."""
    return METRICS.format(run=run, split=split, nms=nms)
