# Snakemake script of rule plot_timeline: one game's predictions against its ground truth.
import logging
from pathlib import Path

from comedian.data.soccernet import RESULTS_NAME
from comedian.plots import plot_game_timeline

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
game = snakemake.params.game  # noqa: F821
plot_game_timeline(
    snakemake.output.png,  # noqa: F821
    Path(snakemake.input.results) / game / RESULTS_NAME,  # noqa: F821
    snakemake.params.labels,  # noqa: F821  (the file itself; the input may be its download)
    title=f"{game} ({snakemake.wildcards.run}, {snakemake.wildcards.nms})",  # noqa: F821
)
