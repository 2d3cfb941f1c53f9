"""The embedded synthetic SoccerNet-format dataset (issue 2, method.md section 0).

Usage:
    from comedian.synth import SynthConfig, generate, plan_games, write_half
    plan_games(SynthConfig(seed=0))                  # [(split, game path)], fast
    generate(SynthConfig(seed=0), Path("data/synthetic"), workers=2)

Real H.264 videos (398x224, 25 fps, ``.mkv``) of a rendered pitch with moving players, in the
SoccerNet folder layout and names, with Labels-v2.json files holding all 17 classes. Each class
has a visual signature around its events (comedian.synth.signatures); "not shown" events have
none. Everything is a function of the seed.
"""

from comedian.synth.config import SynthConfig
from comedian.synth.generate import generate, write_half
from comedian.synth.labels import labels_document, write_labels
from comedian.synth.plan import Event, GamePlan, plan_dataset, plan_games
from comedian.synth.video import VideoEncodeError

__all__ = [
    "Event",
    "GamePlan",
    "SynthConfig",
    "VideoEncodeError",
    "generate",
    "labels_document",
    "plan_dataset",
    "plan_games",
    "write_half",
    "write_labels",
]
