"""Stage configs: frozen dataclasses, dotted ``key=value`` overrides and the resolved dump.

Usage:
    cfg = apply_overrides(decode.Config(), {"fps": 4, "resize.height": 224})
    write_resolved(out_dir / "config.resolved.yaml", stage="decode", config=cfg, paths=paths)

Snakemake's config is the single source of settings: rules pass a section of it as
``--set key=value`` items; every stage's defaults are the paper's values.
"""

from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from comedian import __version__
from comedian.atomic import write_text_atomic
from comedian.errors import UsageError

T = TypeVar("T")
_FLOAT_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


class ConfigError(UsageError):
    """An override names an unknown key or has a value of the wrong type."""


class Settings:
    """Base of the settings dataclasses (a stage's ``Config`` and the sections it is made of,
    e.g. :class:`comedian.training.TrainConfig`, :class:`comedian.losses.sce.SceConfig`).

    :meth:`check` runs whenever an instance is built or overridden; each subclass extends it
    with ``super().check()``, so a stage config that combines several of them (multiple
    inheritance, the fields stay flat: same keys, options and ``--set`` paths) checks them all.
    """

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse bad values, naming the setting (:class:`ConfigError`)."""


def option_name(name: str) -> str:
    """How an error names a setting: its command-line option and its config key."""
    return f"--{name.replace('_', '-')} ({name})" if "." not in name else name


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    below: float | None = None,
    integer: bool = False,
) -> None:
    """Refuse a setting that is not a finite number in range, naming it (:class:`ConfigError`).

    ``minimum``/``maximum`` are inclusive bounds, ``above``/``below`` exclusive ones.
    """
    kind = "an integer" if integer else "a finite number"
    bounds = []
    if minimum is not None:
        bounds.append(f">= {minimum:g}")
    if above is not None:
        bounds.append(f"> {above:g}")
    if maximum is not None:
        bounds.append(f"<= {maximum:g}")
    if below is not None:
        bounds.append(f"< {below:g}")
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (not integer or float(value).is_integer())
    if ok:
        ok = (
            (minimum is None or value >= minimum)
            and (above is None or value > above)
            and (maximum is None or value <= maximum)
            and (below is None or value < below)
        )
    if not ok:
        raise ConfigError(
            f"{option_name(name)}: must be {kind} {' and '.join(bounds)}, got {value!r}"
        )


def parse_set_args(items: Sequence[str]) -> dict[str, Any]:
    """Parse ``["a.b=1", "c=[1, 2]"]`` into ``{"a.b": 1, "c": [1, 2]}`` (values read as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as err:
            problem = " ".join(str(err).split())
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({problem})") from None
        if isinstance(value, str) and _FLOAT_RE.match(value):
            value = float(value)  # YAML 1.1 reads "1e-3" as a string
        out[key.strip()] = value
    return out


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Turn dotted keys into nested dicts: ``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: {part} is both a value and a section")
        if isinstance(value, Mapping) and isinstance(node.get(leaf), dict):
            node[leaf].update(value)
        else:
            node[leaf] = value
    return out


def apply_overrides(cfg: T, overrides: Mapping[str, Any], *, _prefix: str = "") -> T:
    """Return a copy of the dataclass ``cfg`` with ``overrides`` applied.

    Args:
        cfg: A (frozen) dataclass instance; nested dataclass fields are sections.
        overrides: Dotted keys (``"optim.lr"``) or nested dicts; values are coerced to the
            field's declared type (``int`` from ``2``, ``tuple[int, ...]`` from a list, ...).

    Returns:
        A new instance; ``cfg`` is unchanged.

    Raises:
        ConfigError: For an unknown key (the message lists the valid ones) or a bad value.
    """
    if not dataclasses.is_dataclass(cfg):
        raise TypeError(f"{type(cfg).__name__} is not a dataclass")
    hints = typing.get_type_hints(type(cfg))
    names = [f.name for f in dataclasses.fields(cfg)]
    changes: dict[str, Any] = {}
    for key, value in nest(overrides).items():
        path = f"{_prefix}{key}"
        if key not in names:
            raise ConfigError(
                f"unknown config key {path!r}; valid keys here: {', '.join(sorted(names))}"
            )
        current = getattr(cfg, key)
        if dataclasses.is_dataclass(current) and isinstance(value, Mapping):
            changes[key] = apply_overrides(current, value, _prefix=f"{path}.")
        else:
            changes[key] = coerce(value, hints[key], path)
    return dataclasses.replace(cfg, **changes)  # type: ignore[type-var]


def coerce(value: Any, tp: Any, path: str) -> Any:
    """Coerce a YAML value to the annotated type ``tp`` or raise :class:`ConfigError`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, path)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError("; ".join(errors))
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{path}: {value!r} is not one of {list(args)}")
        return value
    if origin in (tuple, list):
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{path}: expected {len(args)} values, got {value!r}")
            return tuple(
                coerce(v, a, f"{path}[{i}]")
                for i, (v, a) in enumerate(zip(value, args, strict=True))
            )
        item = args[0] if args else Any
        seq = [coerce(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(seq) if origin is tuple else seq
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{path}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{path}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{path}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{path}: expected a string, got {value!r}")
    if tp is Path:
        if isinstance(value, str | Path):
            return Path(value)
        raise ConfigError(f"{path}: expected a path, got {value!r}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a section (mapping), got {value!r}")
        return apply_overrides(tp(), value, _prefix=f"{path}.")
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{path}: cannot use {value!r} as {tp}")


def to_dict(obj: Any) -> Any:
    """A YAML-friendly copy of a dataclass (tuples become lists, paths strings)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def git_revision() -> str:
    """The git commit of the package source (with ``-dirty`` if modified), else ``unknown``."""
    src = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=src,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev}-dirty" if dirty else rev


def write_resolved(path: str | Path, *, stage: str, config: Any, paths: Any = None) -> None:
    """Write ``config.resolved.yaml``: stage, resolved config, paths, version, git revision."""
    doc = {
        "stage": stage,
        "comedian_version": __version__,
        "git_revision": git_revision(),
        "config": to_dict(config),
        "paths": to_dict(paths) if paths is not None else None,
    }
    write_text_atomic(path, yaml.safe_dump(doc, sort_keys=False))
