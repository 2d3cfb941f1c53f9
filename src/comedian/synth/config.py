"""Settings of the embedded synthetic SoccerNet-format dataset (issue 2, method.md section 0).

Usage:
    cfg = SynthConfig(seed=0, train=6, valid=2, test=2)
    cfg = apply_overrides(SynthConfig(), {"half_duration_s": 40.0})

The defaults size the demo: 10 labelled games of two 180 s halves, rendered and encoded in about
a minute and a half on two cores, with every class at least twice (visible) in each labelled split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from comedian.config import ConfigError
from comedian.synth.signatures import HALF_WIDTH_S


@dataclass(frozen=True)
class SynthConfig:
    """All settings of the synthetic dataset; the same seed and settings give the same files."""

    seed: int = field(default=0, metadata={"help": "master seed: names, labels and frames"})
    train: int = field(default=6, metadata={"help": "number of games in the train split"})
    valid: int = field(default=2, metadata={"help": "number of games in the valid split"})
    test: int = field(default=2, metadata={"help": "number of games in the test split"})
    challenge: int = field(
        default=0, metadata={"help": "number of challenge games (videos only, no Labels-v2.json)"}
    )
    half_duration_s: float = field(
        default=180.0, metadata={"help": "length of each half in seconds (real games: ~2700)"}
    )
    fps: float = field(default=25.0, metadata={"help": "video frame rate (SoccerNet: 25)"})
    width: int = field(
        default=398, metadata={"help": "frame width in pixels (SoccerNet 224p: 398)"}
    )
    height: int = field(default=224, metadata={"help": "frame height in pixels (SoccerNet: 224)"})
    event_interval_s: float = field(
        default=7.0,
        metadata={"help": "mean spacing of events in seconds (real games: ~25 s)"},
    )
    min_event_gap_s: float = field(
        default=2.0,
        metadata={
            "help": "smallest spacing of two events, so their visual signatures never overlap"
        },
    )
    min_visible_per_class: int = field(
        default=2,
        metadata={"help": "visible events reserved for every class in each labelled split"},
    )
    not_shown_fraction: float = field(
        default=0.1, metadata={"help": "fraction of events with visibility 'not shown'"}
    )
    crf: int = field(default=23, metadata={"help": "x264 constant rate factor (quality)"})
    preset: str = field(default="superfast", metadata={"help": "x264 speed preset"})
    gop: int = field(
        default=50, metadata={"help": "keyframe interval in frames (broadcast-like: 2 s)"}
    )
    workers: int = field(
        default=0,
        metadata={"help": "processes rendering halves (0: all CPUs); does not change the output"},
    )

    def __post_init__(self) -> None:
        """Reject settings that cannot make a valid dataset (ConfigError, a ValueError)."""
        for name in ("train", "valid", "test", "challenge", "min_visible_per_class", "workers"):
            if getattr(self, name) < 0:
                raise ConfigError(f"synth config: {name} must be >= 0, got {getattr(self, name)}")
        if self.train + self.valid + self.test + self.challenge == 0:
            raise ConfigError(
                "synth config: no games planned (train, valid, test, challenge all 0)"
            )
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            # yuv420p subsamples chroma 2x2: x264 needs even sizes.
            raise ConfigError(
                f"synth config: width and height must be positive and even, "
                f"got {self.width}x{self.height}"
            )
        if self.fps <= 0:
            raise ConfigError(f"synth config: fps must be > 0, got {self.fps}")
        if self.min_event_gap_s < 2 * HALF_WIDTH_S:
            raise ConfigError(
                f"synth config: min_event_gap_s must be >= {2 * HALF_WIDTH_S} s so that two "
                f"visual signatures never overlap, got {self.min_event_gap_s}"
            )
        if self.event_interval_s < self.min_event_gap_s:
            raise ConfigError(
                f"synth config: event_interval_s ({self.event_interval_s}) must be >= "
                f"min_event_gap_s ({self.min_event_gap_s})"
            )
        if self.half_duration_s < 10.0:
            raise ConfigError(
                f"synth config: half_duration_s must be >= 10 s, got {self.half_duration_s}"
            )
        if not 0.0 <= self.not_shown_fraction < 1.0:
            raise ConfigError(
                f"synth config: not_shown_fraction must be in [0, 1), got {self.not_shown_fraction}"
            )
        if self.gop <= 0:
            raise ConfigError(f"synth config: gop must be > 0, got {self.gop}")
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"synth config: crf must be in [0, 51], got {self.crf}")
