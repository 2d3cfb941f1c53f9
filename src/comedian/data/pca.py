"""PCA of the teacher features (method.md §4): z-score, then PCA to 512 components, no whitening.

Usage:
    banks = [np.load(p, mmap_mode="r") for p in train_feature_files]   # each (2 * duration, 2048)
    pca = fit_pca(banks, n_components=512, max_rows=400_000, seed=0)
    pca.save("results/pca/transform.npz")
    reduced = PcaTransform.load("results/pca/transform.npz").transform(bank)   # (N, 512) float32

The transform is fitted on the train split only and applied unchanged to every split: each
dimension is standardized with the train mean and population standard deviation (ddof 0), then
projected on the train principal axes after subtracting the PCA mean. Dimensions that are
constant on the train split (ReLU features that never fire) keep a scale of 1, as scikit-learn's
StandardScaler does, instead of dividing by zero.

Memory: the SoccerNet train bank is 300 games x 2 halves x 5,400 rows x 2048 float32 = 13 GB, and
the standardized copy as much again. A streaming fit is not implemented; ``max_rows`` fits on a
uniform row subsample drawn with a fixed seed instead (gathered from memory-mapped banks without
loading them whole). The fit diagonalizes a 2048 x 2048 covariance, so a few hundred thousand
rows far outnumber what it estimates; 50,000 x 2048 rows fit in ~20 s on one CPU core.

File format: an ``.npz`` of plain arrays (loads with ``allow_pickle=False``): ``mean``, ``std``,
``center``, ``components``, ``explained_variance``, ``explained_variance_ratio``, ``n_rows``,
``version``.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from comedian.atomic import atomic_path

log = logging.getLogger(__name__)

VERSION = 1
_ARRAYS = (
    "mean",
    "std",
    "center",
    "components",
    "explained_variance",
    "explained_variance_ratio",
)


class PcaError(ValueError):
    """A malformed transform file or a feature array of the wrong shape."""


@dataclass(frozen=True)
class PcaTransform:
    """A fitted z-score + PCA transform.

    Attributes:
        mean: (D,) per-dimension train mean.
        std: (D,) per-dimension train population std, 1 where the dimension is constant.
        center: (D,) PCA mean of the standardized train rows (~0; kept so that the transform is
            exactly scikit-learn's).
        components: (n, D) principal axes, rows sorted by decreasing variance.
        explained_variance: (n,) variance of the standardized train rows along each axis.
        explained_variance_ratio: (n,) the same as a fraction of the total.
        n_rows: Train rows the transform was fitted on.
    """

    mean: np.ndarray
    std: np.ndarray
    center: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    n_rows: int

    @property
    def in_dim(self) -> int:
        """Input width D."""
        return self.components.shape[1]

    @property
    def out_dim(self) -> int:
        """Number of components n."""
        return self.components.shape[0]

    def transform(self, x: np.ndarray, source: str = "<features>") -> np.ndarray:
        """Apply the fitted transform unchanged.

        Args:
            x: Features of any split.
            source: Name used in error messages (the file path).

        Returns:
            float32 array (N, n).

        Shapes:
            x: (N, D) -> (N, n).
        """
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise PcaError(f"{source}: features must be (N, {self.in_dim}), got {x.shape}")
        z = (x.astype(np.float64) - self.mean) / self.std - self.center  # (N, D)
        return (z @ self.components.T).astype(np.float32)  # (N, n)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the transform to an ``.npz`` of plain arrays, atomically."""
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays, n_rows=np.int64(self.n_rows), version=np.int64(VERSION))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PcaTransform:
        """Read a transform written by :meth:`save` (no pickle).

        Raises:
            PcaError: Naming ``path`` when it is unreadable or not a transform file.
        """
        try:
            with np.load(Path(path), allow_pickle=False) as f:
                missing = [k for k in (*_ARRAYS, "n_rows", "version") if k not in f.files]
                if missing:
                    raise PcaError(f"{path}: not a PCA transform file (missing {missing})")
                if int(f["version"]) != VERSION:
                    raise PcaError(
                        f"{path}: PCA transform version {int(f['version'])}, expected {VERSION}"
                    )
                arrays = {k: np.asarray(f[k], dtype=np.float64) for k in _ARRAYS}
                n_rows = int(f["n_rows"])
        except (OSError, ValueError, zipfile.BadZipFile) as err:
            if isinstance(err, PcaError):
                raise
            raise PcaError(f"{path}: unreadable PCA transform ({err})") from None
        d = arrays["components"].shape[-1]
        n = arrays["components"].shape[0] if arrays["components"].ndim == 2 else -1
        shapes_ok = (
            arrays["components"].ndim == 2
            and all(arrays[k].shape == (d,) for k in ("mean", "std", "center"))
            and all(arrays[k].shape == (n,) for k in _ARRAYS[4:])
        )
        if not shapes_ok:
            raise PcaError(f"{path}: PCA transform arrays have inconsistent shapes")
        return cls(**arrays, n_rows=n_rows)


def read_features(path: str | os.PathLike[str], *, half: str) -> np.ndarray:
    """Memory-map one half's feature array, checked: a 2-D float array with rows and columns.

    Args:
        path: The ``.npy`` file.
        half: The half it holds, for messages (``"half 2 of <slug>"``).

    Returns:
        The (N, D) array (read-only memory map). Values are checked where they are used (a
        full pass over a memory map here would read every bank twice).

    Raises:
        FileNotFoundError, PcaError: Naming the file and the half.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no teacher features for {half}")
    try:
        x = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise PcaError(f"{path}: features of {half} are not a readable .npy array ({err})") from None
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise PcaError(f"{path}: features of {half} must be (rows >= 1, dims >= 1), got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise PcaError(f"{path}: features of {half} must be floating point, got {x.dtype}")
    return x


def sample_rows(features: Sequence[np.ndarray], max_rows: int | None, seed: int = 0) -> np.ndarray:
    """Stack the rows of several arrays, or a uniform subsample of ``max_rows`` of them.

    The subsample is drawn without replacement over all rows with ``np.random.default_rng(seed)``
    and read array by array in file order, so memory-mapped inputs are never loaded whole.

    Shapes:
        features: a sequence of (N_i, D) -> (min(sum N_i, max_rows), D), the input dtype.
    """
    if not features:
        raise PcaError("PCA: no feature arrays to fit on")
    widths = {a.shape[1] if a.ndim == 2 else None for a in features}
    if len(widths) != 1 or None in widths:
        shapes = sorted({str(a.shape) for a in features})[:4]
        raise PcaError(f"PCA: feature arrays must all be (N, D) with one D, got shapes {shapes}")
    counts = np.array([a.shape[0] for a in features], dtype=np.int64)
    total = int(counts.sum())
    if max_rows is None or max_rows >= total:
        return np.concatenate([np.asarray(a) for a in features], axis=0)
    if max_rows < 1:
        raise PcaError(f"PCA: max_rows must be >= 1, got {max_rows}")
    pick = np.sort(np.random.default_rng(seed).choice(total, size=max_rows, replace=False))
    offsets = np.concatenate([[0], np.cumsum(counts)])  # (A + 1,)
    bounds = np.searchsorted(pick, offsets)  # picks of array i: pick[bounds[i]:bounds[i + 1]]
    parts = [
        np.asarray(a[pick[bounds[i] : bounds[i + 1]] - offsets[i]]) for i, a in enumerate(features)
    ]
    return np.concatenate(parts, axis=0)


def _mean_std(x: np.ndarray, chunk: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and population std in float64, two passes over row chunks.

    Chunks keep the float64 temporaries small (np.std on a float32 array would build a float64
    copy of the whole array); two passes avoid the cancellation of sum-of-squares formulas.

    Shapes:
        x: (N, D) -> (D,), (D,).
    """
    n = x.shape[0]
    total = np.zeros(x.shape[1], dtype=np.float64)
    for i in range(0, n, chunk):
        total += x[i : i + chunk].sum(axis=0, dtype=np.float64)
    mean = total / n
    sq = np.zeros_like(mean)
    for i in range(0, n, chunk):
        sq += ((x[i : i + chunk] - mean) ** 2).sum(axis=0)
    return mean, np.sqrt(sq / n)


@dataclass(frozen=True)
class _Fitted:
    """The attributes of a fitted scikit-learn PCA that :func:`fit_pca` reads."""

    mean_: np.ndarray
    components_: np.ndarray
    explained_variance_: np.ndarray
    explained_variance_ratio_: np.ndarray


def _covariance_pca(z: np.ndarray, n_components: int) -> _Fitted:
    """PCA from the eigenvectors of the D x D covariance, for any number of rows.

    The top axes are scikit-learn's (same variance normalization n - 1 and sign rule: the
    largest entry of each axis positive); when the rows have lower rank than ``n_components``
    the remaining axes are eigenvectors of eigenvalue 0, i.e. an orthonormal completion.

    Shapes:
        z: (N, D) -> components (n_components, D).
    """
    n = z.shape[0]
    center = z.mean(axis=0, dtype=np.float64)  # (D,)
    zc = z.astype(np.float64) - center  # (N, D)
    cov = zc.T @ zc / max(n - 1, 1)  # (D, D)
    eigval, eigvec = np.linalg.eigh(cov)  # ascending
    var = np.clip(eigval[::-1][:n_components], 0.0, None)  # (n,)
    components = eigvec[:, ::-1][:, :n_components].T.copy()  # (n, D)
    peak = components[np.arange(n_components), np.abs(components).argmax(axis=1)]  # (n,)
    components *= np.where(peak < 0, -1.0, 1.0)[:, None]
    total = float(np.trace(cov))
    ratio = var / total if total > 0 else np.zeros_like(var)
    return _Fitted(center, components, var, ratio)


def fit_pca(
    features: np.ndarray | Sequence[np.ndarray],
    n_components: int = 512,
    *,
    max_rows: int | None = None,
    seed: int = 0,
    svd_solver: str = "covariance_eigh",
) -> PcaTransform:
    """Fit the z-score + PCA transform on train features (method.md §4).

    Args:
        features: One (N, D) array or a sequence of them (one per half; memory maps welcome).
        n_components: Components kept (512 in the paper).
        max_rows: Fit on a uniform subsample of this many rows (None: all rows).
        seed: Seed of the subsample.
        svd_solver: scikit-learn's PCA solver. ``covariance_eigh`` (the default) diagonalizes the
            D x D covariance, the fast exact choice for many more rows than dimensions.

    Returns:
        The fitted transform.
    """
    arrays = [features] if isinstance(features, np.ndarray) else list(features)
    x = sample_rows(arrays, max_rows, seed)  # (N, D)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    n, d = x.shape
    if not 1 <= n_components <= d:
        raise PcaError(f"PCA: n_components must be in 1..{d} (the feature width), got {n_components}")
    if n == 0:
        raise PcaError("PCA: no train rows to fit on")
    if not np.isfinite(x).all():
        raise PcaError("PCA: the train features hold NaN or inf")
    mean, std = _mean_std(x)  # (D,), (D,) population (ddof 0)
    # Constant dimensions: a float std of identical values can come out as rounding noise
    # instead of 0, so compare with the input's resolution at the mean's magnitude.
    constant = std <= 10 * np.finfo(x.dtype).eps * np.abs(mean)
    std = np.where(constant, 1.0, std)
    # (N, D) in the input precision: float32 features need one float32 copy, not a float64 one.
    z = (x - mean.astype(x.dtype)) / std.astype(x.dtype)
    if n < n_components:
        # Fewer rows than components (a rehearsal's few short halves; the paper's train split
        # has 3.2 M rows): the rows span at most n - 1 axes, scikit-learn refuses, and the
        # remaining axes complete an orthonormal basis with no train variance.
        log.warning(
            "PCA: %d train rows for %d components: the axes past the rows' rank carry no "
            "train variance",
            n,
            n_components,
        )
        pca = _covariance_pca(z, n_components)
    else:
        pca = PCA(n_components=n_components, whiten=False, svd_solver=svd_solver)
        pca.fit(z)
    log.info(
        "PCA: %d rows x %d dims -> %d components, %.1f %% of the variance (%d constant dims)",
        n,
        d,
        n_components,
        100 * pca.explained_variance_ratio_.sum(),
        int(constant.sum()),
    )
    return PcaTransform(
        mean=mean,
        std=std,
        center=pca.mean_.astype(np.float64),
        components=pca.components_.astype(np.float64),
        explained_variance=pca.explained_variance_.astype(np.float64),
        explained_variance_ratio=pca.explained_variance_ratio_.astype(np.float64),
        n_rows=n,
    )
