"""`ctrpo eval` and `ctrpo export` (ctrpo_core/tools/evaluate.py, tools/export.py, runs/policy.py) on small real
runs."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli

from ctrpo_core import api
from ctrpo_core.cli import main
from ctrpo_core.envs import make_vec_env
from ctrpo_core.runs import RunDir
from ctrpo_core.runs.policy import act, load_policy
from ctrpo_core.tools import evaluate as policy_io
from ctrpo_core.tools import export

EVAL_KEYS = {
    "run",
    "task",
    "episodes",
    "deterministic",
    "seed",
    "cost_limit",
    "return_mean",
    "return_std",
    "cost_mean",
    "cost_std",
    "safe_fraction",
    "returns",
    "costs",
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Small trained runs: HazardEdge (continuous, frozen normaliser), GridHazard (discrete, running
    normaliser), PointHazard (continuous, running normaliser) and a copy of it whose normaliser clips."""
    root = tmp_path_factory.mktemp("policy_io") / "runs"
    api.train("HazardEdge-v0", "c-trpo", total_steps=8000, runs_dir=str(root), name="edge")
    api.train("GridHazard-v0", "c-trpo", total_steps=4000, runs_dir=str(root), name="grid")
    api.train(
        "PointHazard-v0", "trpo", total_steps=2000, steps_per_epoch=1000, num_envs=4, runs_dir=str(root), name="point"
    )
    clipped = root / "point-clipped"
    shutil.copytree(root / "point", clipped, ignore=shutil.ignore_patterns(".lock"))
    state = RunDir(clipped).load_checkpoint()
    state["algo"]["normalizer"]["clip"] = torch.tensor(1.5, dtype=torch.float64)
    RunDir(clipped).save_checkpoint(state)
    return root


def one_error_line(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ctrpo: error: "), result.stderr
    return lines[0]


# ------------------------------------------------------------------------------------ eval
def test_eval_json_schema_and_reproducible(runs):
    first = run_cli("eval", "edge", "--runs-dir", runs, "--episodes", 7, "--seed", 5, "--json")
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)  # nothing but the JSON object on stdout
    assert set(out) == EVAL_KEYS
    assert out["task"] == "HazardEdge-v0" and out["episodes"] == 7 and out["seed"] == 5
    assert out["deterministic"] is False and out["cost_limit"] == 5.0
    assert Path(out["run"]) == runs / "edge"
    returns, costs = np.array(out["returns"]), np.array(out["costs"])
    assert returns.shape == costs.shape == (7,)
    assert out["return_mean"] == pytest.approx(returns.mean(), abs=1e-12)
    assert out["return_std"] == pytest.approx(returns.std(), abs=1e-12)
    assert out["cost_mean"] == pytest.approx(costs.mean(), abs=1e-12)
    assert out["cost_std"] == pytest.approx(costs.std(), abs=1e-12)
    assert out["safe_fraction"] == np.mean(costs <= out["cost_limit"])
    assert np.all(np.isin(costs, np.arange(51)))  # whole steps in the hazard of 50-step episodes
    assert "7/7 episodes" in first.stderr  # the progress line (plain lines: stderr is not a TTY)
    # same seed, same numbers: here, in another process, by the run's path; another seed: other episodes
    again = policy_io.evaluate(runs / "edge", episodes=7, seed=5)
    assert {k: v for k, v in again.items() if k != "run"} == {k: v for k, v in out.items() if k != "run"}
    assert policy_io.evaluate(runs / "edge", episodes=7, seed=6)["returns"] != out["returns"]


def independent_episodes(run_dir, episodes, seed):
    """Deterministic episodes recomputed here: env i of min(N, 16) runs episodes i, i + n, i + 2n, ..."""
    policy, normalizer, cfg = load_policy(run_dir)
    torch.set_num_threads(1)  # as `ctrpo eval`: the same float sums
    n = min(episodes, 16)
    env = make_vec_env(cfg.task, n, seed)
    obs = env.reset(seed)
    per_env = [[] for _ in range(n)]
    wanted = [len(range(i, episodes, n)) for i in range(n)]
    while any(len(per_env[i]) < wanted[i] for i in range(n)):
        obs, _, _, terminated, truncated, info = env.step(act(policy, normalizer, obs, deterministic=True))
        for i in np.flatnonzero(terminated | truncated):
            per_env[i].append((info["episode_return"][i], info["episode_cost"][i]))
    ordered = [per_env[j % n][j // n] for j in range(episodes)]
    return [r for r, _ in ordered], [c for _, c in ordered]


def cli(capsys, *args):
    """`ctrpo ARGS` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("name", ["edge", "grid"])
def test_eval_deterministic_matches_an_independent_recomputation(runs, capsys, name):
    status, stdout, _ = cli(capsys, "eval", runs / name, "--episodes", 20, "--deterministic", "--seed", 3, "--json")
    assert status == 0
    out = json.loads(stdout)
    assert out["deterministic"] is True and out["episodes"] == 20
    returns, costs = independent_episodes(runs / name, 20, 3)
    assert out["returns"] == returns and out["costs"] == costs
    assert out["safe_fraction"] == np.mean(np.array(costs) <= out["cost_limit"])


def test_eval_prints_a_summary(runs, capsys):
    status, text, err = cli(capsys, "eval", "grid", "--runs-dir", runs, "--episodes", 3)
    assert status == 0
    assert "3 episodes of GridHazard-v0" in text and "return" in text and "cost" in text
    assert "cost <= b = 1" in text and "±" in text
    assert err.splitlines()[-1].endswith("3/3 episodes")


def test_eval_bad_inputs_exit_2_with_one_line(runs, tmp_path, capsys):
    from ctrpo_core.runs import lifecycle

    lifecycle.create(api.resolve("HazardEdge-v0", "c-trpo", runs_dir=str(tmp_path), name="unborn"))  # no checkpoint
    assert "--episodes" in one_error_line(run_cli("eval", "edge", "--runs-dir", runs, "--episodes", 0))
    cases = [
        (("eval", "edge", "--runs-dir", runs, "--episodes", -3), "--episodes"),
        (("eval", "edge", "--runs-dir", runs, "--episodes", "many"), "--episodes"),
        (("eval", "edge", "--runs-dir", runs, "--seed", -1), "--seed"),
        (("eval", "no-such-run", "--runs-dir", runs), "RUN"),
        (("eval", tmp_path / "nowhere"), "RUN"),
        (("eval", "unborn", "--runs-dir", tmp_path), "checkpoint"),
    ]
    for args, word in cases:
        status, out, err = cli(capsys, *args)
        assert status == 2 and out == "" and len(err.splitlines()) == 1, (args, err)
        assert err.startswith("ctrpo: error: ") and word in err, (args, err)


# ------------------------------------------------------------------------------------ export
CHECK = textwrap.dedent("""
    import importlib.util, json, sys
    sys.path.append(sys.argv[1])  # torch's site-packages, no .pth files: the editable ctrpo_core stays out
    assert importlib.util.find_spec("ctrpo_core") is None
    import torch
    report = {}
    for name in sys.argv[2:]:
        extra = {"metadata.json": ""}
        module = torch.jit.load(f"{name}.pt", _extra_files=extra)
        obs = torch.load(f"{name}.obs.pt")
        out = {"batch32": module(obs.float()), "batch64": module(obs.double()),
               "single": torch.stack([module(o) for o in obs.double()])}
        torch.save(out, f"{name}.actions.pt")
        attrs = {k: getattr(module, k) for k in ("task", "algo", "obs_dim", "act_dim", "discrete",
                                                 "action_low", "action_high")}
        report[name] = {"attrs": attrs, "meta": json.loads(module.metadata),
                        "extra": json.loads(extra["metadata.json"])}
    report["ctrpo_modules"] = [m for m in sys.modules if "ctrpo" in m]
    print(json.dumps(report))
""")
EXPORTED = ["edge", "grid", "point-clipped"]


def raw_observations(task: str, rng) -> np.ndarray:
    if task == "GridHazard-v0":  # every one-hot state, and off-grid vectors
        return np.concatenate([np.eye(30), rng.normal(0, 2, (10, 30))])
    if task == "HazardEdge-v0":
        return np.concatenate([rng.uniform(0, 1, (30, 2)), rng.normal(0, 3, (10, 2))])
    env = make_vec_env(task, 8, 0)  # PointHazard: real observations, and far-out ones the clip catches
    obs = [env.reset()] + [env.step(rng.uniform(-1, 1, (8, 2)))[0] for _ in range(3)]
    return np.concatenate(obs + [rng.normal(0, 10, (8, 8))])


@pytest.fixture(scope="module")
def exported(runs, tmp_path_factory):
    """The three runs exported (the first by the real command line), then loaded and run by a Python
    that has torch only: {name: (its report, its actions, the observations)}."""
    work = tmp_path_factory.mktemp("elsewhere")
    result = run_cli("export", EXPORTED[0], "--runs-dir", runs, "--out", work / f"{EXPORTED[0]}.pt")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {work / 'edge.pt'}:") and len(result.stdout.splitlines()) == 1
    for name in EXPORTED[1:]:
        assert main(["export", name, "--runs-dir", str(runs), "--out", str(work / f"{name}.pt")]) == 0
    assert sorted(os.listdir(work)) == [f"{n}.pt" for n in sorted(EXPORTED)]  # no temporary file left over
    observations = {}
    for name in EXPORTED:
        task = RunDir(runs / name).read_config()["task"]
        observations[name] = raw_observations(task, np.random.default_rng(0))
        torch.save(torch.as_tensor(observations[name]), work / f"{name}.obs.pt")
    site = str(Path(torch.__file__).resolve().parents[1])
    check = subprocess.run(
        [sys.executable, "-I", "-S", "-c", CHECK, site, *EXPORTED],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
    report = json.loads(check.stdout)
    assert report["ctrpo_modules"] == []
    return {name: (report[name], torch.load(work / f"{name}.actions.pt"), observations[name]) for name in EXPORTED}


@pytest.mark.parametrize("name", EXPORTED)
def test_export_round_trip_without_ctrpo_core(runs, exported, name):
    info, actions, obs = exported[name]
    policy, normalizer, cfg = load_policy(runs / name)
    expected = act(policy, normalizer, obs, deterministic=True)
    for key in ("batch32", "batch64", "single"):
        got = actions[key].numpy()
        if policy.discrete:
            assert got.dtype == np.int64 and np.array_equal(got, expected), key
        else:
            assert got.dtype == np.float32 and got.shape == expected.shape
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=key)
    if name == "point-clipped":  # the clip acts on some of these observations, and the export follows it
        assert normalizer.clip == 1.5
        assert np.any(np.abs((obs - normalizer.mean) / np.sqrt(normalizer.var + normalizer.eps)) > 1.5)
    if name != "edge":  # a normaliser that learnt something
        assert not np.allclose(normalizer.mean, 0.0)
    attrs, meta = info["attrs"], info["meta"]
    assert info["extra"] == meta
    assert attrs["task"] == meta["task"] == cfg.task and attrs["algo"] == meta["algo"] == cfg.algo
    assert attrs["obs_dim"] == obs.shape[1] and attrs["discrete"] == policy.discrete
    if policy.discrete:
        assert attrs["act_dim"] == 4 and attrs["action_low"] == [] and meta["action_low"] is None
    else:
        assert attrs["act_dim"] == expected.shape[1] and len(attrs["action_low"]) == attrs["act_dim"]
        assert all(lo < hi for lo, hi in zip(attrs["action_low"], attrs["action_high"]))
    if name == "edge":
        assert (attrs["action_low"], attrs["action_high"]) == ([-0.25], [1.0])


def test_export_refuses_a_missing_folder_and_never_leaves_half_a_file(runs, tmp_path, capsys, monkeypatch):
    line = one_error_line(run_cli("export", "edge", "--runs-dir", runs, "--out", tmp_path / "missing" / "p.pt"))
    assert "--out" in line and not (tmp_path / "missing").exists()
    for args, word in [
        (("nope", "--out", tmp_path / "p.pt"), "RUN"),
        (("edge", "--out", tmp_path), "--out"),
        (("edge",), "--out"),
    ]:  # --out is required
        status, out, err = cli(capsys, "export", *args, "--runs-dir", runs)
        assert status == 2 and out == "" and len(err.splitlines()) == 1 and word in err, (args, err)
    assert os.listdir(tmp_path) == []

    out = tmp_path / "p.pt"
    out.write_bytes(b"the previous export")

    def broken_save(module, f, _extra_files=None):
        f.write(b"half a fil")
        raise OSError("disk full")

    monkeypatch.setattr(torch.jit, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        export.export(runs / "edge", out, force=True)
    assert os.listdir(tmp_path) == ["p.pt"] and out.read_bytes() == b"the previous export"
    monkeypatch.undo()
    export.export(runs / "edge", out, force=True)  # replaces the old file in one rename (issue 19: --force)
    assert os.listdir(tmp_path) == ["p.pt"] and torch.jit.load(str(out)).task == "HazardEdge-v0"
