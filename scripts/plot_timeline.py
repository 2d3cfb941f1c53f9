# Snakemake script of rule plot_timeline: one game's predictions against its ground truth, as a
# figure and as the match viewer page (linking the game's videos relative to the page).
import logging
from pathlib import Path

from comedian.data.soccernet import RESULTS_NAME
from comedian.plots import plot_game_timeline
from comedian.viewer import write_game_viewer

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
game = snakemake.params.game  # noqa: F821
results = Path(snakemake.input.results) / game / RESULTS_NAME  # noqa: F821
labels = snakemake.params.labels  # noqa: F821  (the file itself; the input may be its download)
title = f"{game} ({snakemake.wildcards.run}, {snakemake.wildcards.nms})"  # noqa: F821
plot_game_timeline(snakemake.output.png, results, labels, title=title)  # noqa: F821
videos = dict(enumerate(snakemake.params.videos, start=1))  # noqa: F821
write_game_viewer(snakemake.output.html, results, labels, videos, title=title)  # noqa: F821
