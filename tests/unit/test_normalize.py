"""RunningNormalizer: the running statistics are exact, and its state round-trips bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from ctrpo_core.envs import RunningNormalizer


def batches(rng: np.random.Generator, shape: tuple[int, ...], sizes=(1, 7, 64, 3, 250, 2)) -> list[np.ndarray]:
    scale = rng.uniform(0.1, 20.0, size=shape)
    offset = rng.normal(0.0, 50.0, size=shape)
    return [offset + scale * rng.standard_normal((n, *shape)) for n in sizes]


@pytest.mark.parametrize("shape", [(5,), (3, 2)])
def test_update_matches_numpy_statistics_of_all_batches(shape):
    rng = np.random.default_rng(0)
    norm = RunningNormalizer(shape)
    seen = []
    for batch in batches(rng, shape):
        norm.update(batch)
        seen.append(batch)
        everything = np.concatenate(seen)
        np.testing.assert_allclose(norm.mean, everything.mean(axis=0), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(norm.var, everything.var(axis=0), rtol=1e-9, atol=1e-10)
        assert norm.count == len(everything)
        assert norm.mean.shape == norm.var.shape == shape


def test_single_observation_and_empty_batch():
    norm = RunningNormalizer(3)
    norm.update(np.array([1.0, 2.0, 3.0]))  # one observation without a batch axis
    np.testing.assert_array_equal(norm.mean, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(norm.var, 0.0)
    assert norm.count == 1
    norm.update(np.zeros((0, 3)))
    np.testing.assert_array_equal(norm.mean, [1.0, 2.0, 3.0])
    assert norm.count == 1


def test_normalize_standardises_and_clips():
    rng = np.random.default_rng(1)
    data = 4.0 + 3.0 * rng.standard_normal((5000, 2))
    norm = RunningNormalizer(2, clip=5.0)
    out = norm(data)  # updates, then normalises
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-4)
    far = norm.normalize(np.array([[1e6, -1e6]]))
    np.testing.assert_array_equal(far, [[5.0, -5.0]])
    before = norm.state_dict()
    norm(np.ones((3, 2)), update=False)
    np.testing.assert_array_equal(norm.mean, before["mean"])
    assert norm.count == before["count"]


def test_state_dict_round_trip_is_exact():
    rng = np.random.default_rng(2)
    shape = (4,)
    original = RunningNormalizer(shape, clip=7.0, eps=1e-6)
    for batch in batches(rng, shape):
        original.update(batch)
    state = original.state_dict()
    restored = RunningNormalizer(shape)  # default clip/eps: the state must carry them
    restored.load_state_dict(state)
    # state_dict is a snapshot, not a view of the live statistics.
    original.update(rng.normal(size=(10, 4)))
    restored_again = RunningNormalizer(shape)
    restored_again.load_state_dict(state)
    np.testing.assert_array_equal(restored_again.mean, restored.mean)
    # Continue both the same way: the outputs stay bit-identical.
    original.load_state_dict(state)
    probe = 100.0 * rng.normal(size=(32, 4))
    for batch in batches(rng, shape) + [probe]:
        np.testing.assert_array_equal(original(batch), restored(batch))
        np.testing.assert_array_equal(original.normalize(probe), restored.normalize(probe))
    np.testing.assert_array_equal(original.mean, restored.mean)
    np.testing.assert_array_equal(original.var, restored.var)
    assert original.count == restored.count
    assert (restored.clip, restored.eps) == (7.0, 1e-6)


def test_state_round_trips_through_an_npz_file(tmp_path):
    rng = np.random.default_rng(3)
    original = RunningNormalizer((2, 3))
    for batch in batches(rng, (2, 3)):
        original.update(batch)
    np.savez(tmp_path / "norm.npz", **original.state_dict())
    restored = RunningNormalizer((2, 3))
    with np.load(tmp_path / "norm.npz") as saved:
        restored.load_state_dict(dict(saved))
    for batch in batches(rng, (2, 3)):
        np.testing.assert_array_equal(original(batch), restored(batch))


def test_load_state_dict_rejects_a_different_shape():
    state = RunningNormalizer(3).state_dict()
    with pytest.raises(ValueError):
        RunningNormalizer(4).load_state_dict(state)
