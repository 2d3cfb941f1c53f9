"""PCA of teacher features: scikit-learn oracle, a hand-worked case, constant dims, file format."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA

from comedian.data.pca import PcaError, PcaTransform, fit_pca, sample_rows


def _correlated(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) * np.linspace(3, 0.1, d)[:, None]
    return (rng.normal(size=(n, d)) @ mix + rng.normal(5, 2, size=d)).astype(np.float64)


def test_pca_hand_worked() -> None:
    # Points (0, 0), (2, 2), (4, 4): mean 2, population std sqrt(8/3) in both dims, standardized
    # rows +-sqrt(3/2) (1, 1) and 0; axis (1, 1) / sqrt(2) (sign: largest entry positive);
    # projections -sqrt(3), 0, sqrt(3): variance (ddof 1) 3, ratio 1.
    x = np.array([[0.0, 0.0], [2.0, 2.0], [4.0, 4.0]])
    pca = fit_pca(x, n_components=1)
    assert pca.mean.tolist() == [2.0, 2.0]
    assert pca.std.tolist() == pytest.approx([math.sqrt(8 / 3)] * 2)
    assert pca.components[0].tolist() == pytest.approx([1 / math.sqrt(2)] * 2)
    assert pca.explained_variance.tolist() == pytest.approx([3.0])
    assert pca.explained_variance_ratio.tolist() == pytest.approx([1.0])
    # (6, 6) standardizes to (4, 4) / sqrt(8/3) = sqrt(6) (1, 1), projecting to 2 sqrt(3).
    assert pca.transform(np.array([[6.0, 6.0]]))[0, 0] == pytest.approx(2 * math.sqrt(3))
    assert pca.transform(x)[:, 0].tolist() == pytest.approx([-math.sqrt(3), 0, math.sqrt(3)])


def test_pca_equals_sklearn_on_standardized_train_and_applies_unchanged() -> None:
    train, valid = _correlated(300, 12, 0), _correlated(50, 12, 1) * 1.5 - 2
    pca = fit_pca(train, n_components=5)
    mean, std = train.mean(axis=0), train.std(axis=0)  # population std (ddof 0)
    oracle = PCA(n_components=5, svd_solver="full").fit((train - mean) / std)
    assert np.allclose(pca.components, oracle.components_, atol=1e-8)
    assert np.allclose(pca.explained_variance, oracle.explained_variance_, rtol=1e-8)
    assert np.allclose(pca.transform(train), oracle.transform((train - mean) / std), atol=1e-4)
    # Another split goes through the train statistics, not its own.
    expected = oracle.transform((valid - mean) / std)
    assert np.allclose(pca.transform(valid), expected, atol=1e-4)
    assert pca.transform(valid).dtype == np.float32
    assert not np.allclose(pca.transform(valid).mean(axis=0), 0, atol=0.1)


def test_pca_float32_input_close_to_float64_fit() -> None:
    train = _correlated(400, 16, 2)
    p64 = fit_pca(train, n_components=4)
    p32 = fit_pca(train.astype(np.float32), n_components=4)
    assert np.allclose(p32.transform(train), p64.transform(train), atol=1e-3)


def test_pca_constant_dimensions_keep_scale_one() -> None:
    x = _correlated(100, 6, 3)
    x[:, 1] = 0.0  # a ReLU unit that never fires
    x[:, 4] = 3.7  # constant, with float rounding in its mean
    pca = fit_pca(x.astype(np.float32), n_components=3)
    assert pca.std[1] == 1.0 and pca.std[4] == 1.0
    assert np.all(np.isfinite(pca.transform(x)))
    assert np.abs(pca.components[:, [1, 4]]).max() < 1e-6


def test_pca_save_load_round_trip(tmp_path: Path) -> None:
    train = _correlated(80, 8, 4)
    pca = fit_pca(train, n_components=3)
    path = tmp_path / "pca" / "transform.npz"
    pca.save(path)
    with np.load(path, allow_pickle=False) as f:
        assert sorted(f.files) == sorted(
            [
                "mean",
                "std",
                "center",
                "components",
                "explained_variance",
                "explained_variance_ratio",
                "n_rows",
                "version",
            ]
        )
    loaded = PcaTransform.load(path)
    assert loaded.n_rows == 80 and (loaded.in_dim, loaded.out_dim) == (8, 3)
    assert np.array_equal(loaded.transform(train), pca.transform(train))
    assert [p.name for p in path.parent.iterdir()] == ["transform.npz"]  # no temporary left


def test_pca_bad_input_names_the_source(tmp_path: Path) -> None:
    pca = fit_pca(_correlated(30, 4, 5), n_components=2)
    with pytest.raises(PcaError, match=r"valid/1\.npy: features must be \(N, 4\)"):
        pca.transform(np.zeros((3, 5)), source="valid/1.npy")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(PcaError, match="bad.npz: unreadable"):
        PcaTransform.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, mean=np.zeros(3))
    with pytest.raises(PcaError, match="other.npz: not a PCA transform"):
        PcaTransform.load(other)
    with pytest.raises(PcaError, match="n_components"):
        fit_pca(_correlated(30, 4, 5), n_components=5)  # wider than the features
    with pytest.raises(PcaError, match="one D"):
        fit_pca([np.zeros((3, 4)), np.zeros((3, 5))], n_components=2)


def test_sample_rows_is_a_seeded_subsample_across_arrays() -> None:
    # Row values are their global index, so a sample shows which rows it took.
    arrays = [
        np.arange(0, 10.0)[:, None],
        np.arange(10, 13.0)[:, None],
        np.arange(13, 30.0)[:, None],
    ]
    assert sample_rows(arrays, None)[:, 0].tolist() == list(range(30))
    assert sample_rows(arrays, 100)[:, 0].tolist() == list(range(30))
    a, b = sample_rows(arrays, 12, seed=0), sample_rows(arrays, 12, seed=0)
    assert np.array_equal(a, b)
    ids = a[:, 0].astype(int)
    expected = np.sort(np.random.default_rng(0).choice(30, size=12, replace=False))
    assert ids.tolist() == expected.tolist()
    assert not np.array_equal(sample_rows(arrays, 12, seed=1), a)


def test_pca_max_rows_fits_on_the_subsample(tmp_path: Path) -> None:
    halves = [_correlated(60, 6, s) for s in range(3)]
    paths = []
    for i, h in enumerate(halves):
        paths.append(tmp_path / f"{i}.npy")
        np.save(paths[-1], h)
    banks = [np.load(p, mmap_mode="r") for p in paths]
    pca = fit_pca(banks, n_components=3, max_rows=50, seed=7)
    direct = fit_pca(sample_rows(halves, 50, seed=7), n_components=3)
    assert pca.n_rows == 50
    assert np.allclose(pca.components, direct.components)
    full = fit_pca(banks, n_components=3)
    assert full.n_rows == 180 and not np.allclose(full.mean, pca.mean)


def test_mean_std_in_chunks_equals_numpy() -> None:
    from comedian.data.pca import _mean_std

    x = _correlated(30, 5, 6).astype(np.float32)
    mean, std = _mean_std(x, chunk=7)  # 4 full chunks and a partial one
    assert np.allclose(mean, x.astype(np.float64).mean(axis=0), rtol=1e-12)
    assert np.allclose(std, x.astype(np.float64).std(axis=0), rtol=1e-12)


def test_pca_with_fewer_rows_than_components_completes_the_basis() -> None:
    # 4 rows in 6 dims span 3 axes after centring: 5 components are those 3 axes (as
    # scikit-learn finds them) and 2 more orthonormal axes with no train variance.
    train = _correlated(4, 6, 11)
    pca = fit_pca(train, n_components=5)
    assert pca.components.shape == (5, 6) and pca.n_rows == 4
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(5), atol=1e-10)
    mean, std = train.mean(0), train.std(0)
    oracle = PCA(n_components=3, svd_solver="full").fit((train - mean) / std)
    np.testing.assert_allclose(pca.components[:3], oracle.components_, atol=1e-8)
    np.testing.assert_allclose(pca.explained_variance[:3], oracle.explained_variance_, rtol=1e-8)
    np.testing.assert_allclose(pca.explained_variance[3:], 0, atol=1e-10)
    np.testing.assert_allclose(pca.explained_variance_ratio.sum(), 1, rtol=1e-8)
    out = pca.transform(train)  # (4, 5): the train rows have nothing on the completed axes
    assert out.shape == (4, 5)
    np.testing.assert_allclose(out[:, 3:], 0, atol=1e-5)
    np.testing.assert_allclose(out[:, :3], oracle.transform((train - mean) / std), atol=1e-5)
