"""One NMS setting: the nms stage's config, a point of the sweep grid, and its path slug.

Usage:
    s = NmsSetting(kind="soft", window=20, threshold=0.001, windows_per_class={"Goal": 30})
    s.slug                                   # 'soft_w20_t0.001_m0_goal30'
    NmsSetting.from_slug("soft_w20_t0.001_m0") == NmsSetting()
    peaks = s.apply(scores)                  # (..., T, 17) -> (..., T, 17)

Every way to name a setting (CLI options, ``--set``, ``config.yaml`` ``spotting.nms``, the sweep
grid, a slug in a target path) builds this class, whose ``__post_init__`` applies the rules of
:func:`comedian.spotting.nms.check_setting`: one validation, one place.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Literal

import numpy as np

from comedian.config import ConfigError
from comedian.data.soccernet import CLASS_INDEX, CLASSES
from comedian.spotting.nms import check_setting, nms

#: Each class's name in slugs: its official name in lower case, letters only ('shotsontarget').
SLUG_CLASS: dict[str, str] = {c: re.sub(r"[^a-z]", "", c.lower()) for c in CLASSES}
_CLASS_OF_SLUG = {v: k for k, v in SLUG_CLASS.items()}
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
#: Regular expression of a setting slug (also the Snakemake wildcard constraint).
SLUG_PATTERN = rf"(?:soft|hard)_w[0-9]+_t{_NUMBER}_m{_NUMBER}(?:_[a-z]+[0-9]+)*"
_SLUG_RE = re.compile(
    rf"(?P<kind>soft|hard)_w(?P<window>[0-9]+)_t(?P<t>{_NUMBER})_m(?P<m>{_NUMBER})"
    r"(?P<classes>(?:_[a-z]+[0-9]+)*)"
)
_CLASS_RE = re.compile(r"_(?P<name>[a-z]+)(?P<window>[0-9]+)")


def format_number(x: float) -> str:
    """The shortest decimal that reads back as ``x`` (no exponent: path-safe, one spelling)."""
    return np.format_float_positional(float(x), trim="-")


@dataclasses.dataclass(frozen=True)
class NmsSetting:
    """One NMS setting (method.md section 8); defaults are COMEDIAN's.

    Per-class windows: ``windows_per_class`` maps official class names to windows that replace
    ``window`` for those classes (``{Goal: 30}`` in config). The slug encodes them, so that a
    setting with per-class windows is still a target of its own and never shares a path with
    another: ``_<class><window>`` after the global part, classes in the official order, with the
    class name of :data:`SLUG_CLASS` (``soft_w20_t0.001_m0_goal30_penalty40``). Entries equal to
    ``window`` are dropped and the mapping kept in class order, so that equal settings compare
    equal and have one slug. (Encoded rather than refused: a setting in config without a slug
    would leave the default targets, which are named by the slug, without a path.)

    Raises:
        ConfigError: (a ValueError) naming the option, for any setting
            :func:`~comedian.spotting.nms.check_setting` refuses or an unknown class name.
    """

    kind: Literal["soft", "hard"] = dataclasses.field(
        default="soft", metadata={"help": "NMS kind (method.md section 8: soft)"}
    )
    window: int = dataclasses.field(
        default=20, metadata={"help": "window in 0.5 s grid steps (20 = +-5 s), >= 1"}
    )
    threshold: float = dataclasses.field(
        default=0.001, metadata={"help": "stop (soft) / keep (hard) threshold, in (0, 1]"}
    )
    min_weight: float = dataclasses.field(
        default=0.0, metadata={"help": "soft NMS decay weight next to an emitted row, in [0, 1)"}
    )
    windows_per_class: dict[str, int] = dataclasses.field(
        default_factory=dict,
        metadata={"help": "class name -> window, replacing window for those classes"},
    )

    def __post_init__(self) -> None:
        per_class = self.windows_per_class
        if not isinstance(per_class, Mapping):
            raise ConfigError(f"NMS windows_per_class: {per_class!r} is not a mapping")
        unknown = [name for name in per_class if name not in CLASS_INDEX]
        if unknown:
            raise ConfigError(
                f"NMS windows_per_class: unknown class {unknown[0]!r} (classes: {', '.join(CLASSES)})"
            )
        try:
            check_setting(self.kind, [self.window], self.threshold, self.min_weight)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        for name, w in per_class.items():
            try:
                check_setting(self.kind, [w], self.threshold, self.min_weight)
            except ValueError as err:
                raise ConfigError(f"NMS windows_per_class.{name}: {err}") from None
        canonical = {
            c: int(per_class[c]) for c in CLASSES if per_class.get(c, self.window) != self.window
        }
        object.__setattr__(self, "window", int(self.window))
        object.__setattr__(self, "threshold", float(self.threshold))
        object.__setattr__(self, "min_weight", float(self.min_weight))
        object.__setattr__(self, "windows_per_class", canonical)

    def __hash__(self) -> int:  # the mapping is not hashable: hash its items
        items = tuple(self.windows_per_class.items())
        return hash((self.kind, self.window, self.threshold, self.min_weight, items))

    @property
    def windows(self) -> list[int]:
        """The window of each class, in the official class order (17 values)."""
        return [self.windows_per_class.get(c, self.window) for c in CLASSES]

    @property
    def slug(self) -> str:
        """Path-safe name, e.g. ``soft_w20_t0.001_m0`` (``_goal30`` per-class windows after it)."""
        classes = "".join(f"_{SLUG_CLASS[c]}{w}" for c, w in self.windows_per_class.items())
        return f"{self.kind}_w{self.window}_t{format_number(self.threshold)}_m{format_number(self.min_weight)}{classes}"

    @classmethod
    def from_slug(cls, slug: str) -> NmsSetting:
        """The setting named by ``slug``, which must be its canonical spelling.

        Raises:
            ConfigError: If ``slug`` is not a slug, names an invalid setting, or spells a setting
                another way than :attr:`slug` would (``t0.0010``, ``m0.0``, ``w020``, a class
                twice or out of order, a class window equal to the global one): one setting,
                one path.
        """
        match = _SLUG_RE.fullmatch(slug)
        if not match:
            raise ConfigError(f"NMS setting {slug!r}: not a slug like soft_w20_t0.001_m0")
        per_class: dict[str, int] = {}
        for item in _CLASS_RE.finditer(match["classes"]):
            name = _CLASS_OF_SLUG.get(item["name"])
            if name is None:
                known = ", ".join(SLUG_CLASS.values())
                raise ConfigError(f"NMS setting {slug!r}: unknown class {item['name']!r} ({known})")
            per_class.setdefault(name, int(item["window"]))
        try:
            setting = cls(
                match["kind"],  # type: ignore[arg-type]
                int(match["window"]),
                float(match["t"]),
                float(match["m"]),
                per_class,
            )
        except ConfigError as err:
            raise ConfigError(f"NMS setting {slug!r}: {err}") from None
        if setting.slug != slug:
            raise ConfigError(f"NMS setting {slug!r}: not canonical, write {setting.slug!r}")
        return setting

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Run this NMS on ``scores (..., T, 17)``. Shapes: -> (..., T, 17) float64."""
        return nms(
            scores,
            kind=self.kind,
            window=self.windows,
            threshold=self.threshold,
            min_weight=self.min_weight,
        )
