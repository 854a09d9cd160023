"""The baselines as the paper's authors ran them (docs/BASELINES.md): Ĵ_c and Reg+ by the authors'
definition, λ by torch Adam, CPO/PCPO's linearisation and acceptance rule, PPO-Lag's passes and learning
rate, actions that reach Safety-Gymnasium unclipped, and old runs never continued under new rules."""

from __future__ import annotations

import json
import re
from collections import deque

import numpy as np
import pytest
import torch
from conftest import run_cli

from ctrpo_core import api
from ctrpo_core.algos import make_algorithm
from ctrpo_core.config import resolve
from ctrpo_core.engine import trust_region as tr
from ctrpo_core.envs import TASKS, make_vec_env
from ctrpo_core.envs.safety_gym import SharedBuffers, _SliceEnvs
from ctrpo_core.runs import trainer


class RecordingEnv:
    """The real env, with the costs of the episodes that end recorded per step, in env order."""

    def __init__(self, env):
        self.env, self.steps = env, []

    def __getattr__(self, name):
        return getattr(self.env, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.env.close()

    def step(self, actions):
        out = self.env.step(actions)
        done = out[3] | out[4]
        self.steps.append(out[5]["episode_cost"][done].tolist())
        return out


def by_hand(steps: list[list[float]], steps_per_env: int, window: int, b: float):
    """Ĵ_c per epoch (mean of the running-mean records of the epoch; 0.0 before any) and Reg+."""
    costs, latest, estimates, regret = deque(maxlen=window), 0.0, [], []
    for start in range(0, len(steps), steps_per_env):
        records = []
        for ended in steps[start : start + steps_per_env]:
            for cost in ended:
                costs.append(cost)
                records.append(float(np.mean(costs)))
        latest = float(np.mean(records)) if records else (float(np.mean(costs)) if costs else 0.0)
        estimates.append(latest)
        regret.append((regret[-1] if regret else 0.0) + max(0.0, latest - b))
    return estimates, regret


@pytest.mark.parametrize(
    "task,settings",
    [
        ("GridHazard-v0", dict(total_steps=8000, steps_per_epoch=2000)),
        # 100 steps per env per epoch, 200-step episodes: no episode ends in the first epoch
        ("PointHazard-v0", dict(total_steps=2000, steps_per_epoch=400, num_envs=4, episode_window=5)),
    ],
)
def test_j_c_and_reg_plus_follow_the_authors_definition(tmp_path, monkeypatch, task, settings):
    made = []
    monkeypatch.setattr(
        trainer, "make_vec_env", lambda *a, **k: made.append(RecordingEnv(make_vec_env(*a, **k))) or made[-1]
    )
    run = api.train(task, "c-trpo", runs_dir=str(tmp_path), name="run", **settings)
    cfg, metrics = resolve(task, "c-trpo", **settings), run.read_metrics()
    estimates, regret = by_hand(made[0].steps, cfg.steps_per_env, cfg.episode_window, cfg.cost_limit)
    np.testing.assert_allclose(metrics.ep_cost, estimates, rtol=0, atol=1e-12)
    np.testing.assert_allclose(metrics.cost_regret, regret, rtol=0, atol=1e-12)
    if task == "PointHazard-v0":
        assert metrics.ep_cost.iloc[0] == 0.0 and np.isnan(metrics.ep_cost_window.iloc[0])  # before any record
        assert metrics.ep_cost_window.iloc[1:].notna().all()  # the end-of-epoch window, kept as a column


def test_lambda_is_a_projected_torch_adam_on_the_cost_violation(tmp_path):
    cfg = resolve("GridHazard-v0", "trpo-lag", total_steps=12000)
    metrics = api.train(
        "GridHazard-v0", "trpo-lag", runs_dir=str(tmp_path), name="lag", total_steps=12000
    ).read_metrics()
    lam = torch.nn.Parameter(torch.tensor(cfg.lagrange_init))
    adam = torch.optim.Adam([lam], lr=cfg.lagrange_lr)
    expected, ascent, plain = [], [], cfg.lagrange_init
    for j_c in metrics.ep_cost:  # updated once per epoch, before the policy step, with that epoch's Ĵ_c
        adam.zero_grad()
        (-lam * (j_c - cfg.cost_limit)).backward()
        adam.step()
        with torch.no_grad():
            lam.clamp_(min=0.0)
        expected.append(lam.item())
        plain = max(0.0, plain + cfg.lagrange_lr * (j_c - cfg.cost_limit))
        ascent.append(plain)
    np.testing.assert_allclose(metrics.lagrange_multiplier, expected, rtol=0, atol=1e-7)
    assert not np.allclose(metrics.lagrange_multiplier, ascent, atol=1e-3)  # plain ascent would differ


@pytest.fixture(scope="module")
def cpo_setup():
    cfg = resolve("GridHazard-v0", "cpo", seed=0)
    env = make_vec_env(cfg.task, cfg.num_envs, cfg.seed)
    algo = make_algorithm(cfg, env)
    algo.start()
    batch = algo.collect()
    yield algo, batch
    env.close()


def test_cpo_linearises_the_cost_surrogate_without_the_horizon_factor(cpo_setup):
    algo, batch = cpo_setup
    g, b, *_ = algo.linearised_problem(batch)
    old_dist, old_logp = algo.old_policy(batch)
    ev = algo.evaluate(batch, old_dist, old_logp)
    expected = tr.flat_grad((ev.ratio * batch.adv_c).mean(), algo.policy)
    torch.testing.assert_close(b, expected, rtol=1e-6, atol=1e-9)
    assert b.norm() > 0 and not torch.allclose(b, expected / (1 - algo.cfg.gamma))


@pytest.mark.parametrize("c", [-2.0, 3.0])
def test_the_line_search_accepts_and_rejects_by_the_three_rules(cpo_setup, c):
    algo, _ = cpo_setup
    delta, k = algo.cfg.delta, {"reward": 0.5, "cost": 0.1}
    slack = max(-c, 0.0)
    ok = {"reward": 0.6, "cost": 0.1 + slack, "kl": delta, "divergence": delta}
    for check_reward in (True, False):
        accept = algo.acceptance(c, k, check_reward)
        assert accept(ok)
        assert not accept({**ok, "kl": 1.01 * delta})  # outside the trust region
        assert not accept({**ok, "cost": 0.1 + slack + 1e-6})  # the cost surrogate rose beyond max(−c, 0)
        assert accept({**ok, "reward": 0.4}) == (not check_reward)  # reward worse: only where it is checked
        assert not accept({**ok, "kl": float("nan")})


def test_cpo_checks_the_reward_in_cases_2_and_3_only_and_pcpo_always(cpo_setup, monkeypatch):
    import ctrpo_core.algos.cpo as cpo_module

    algo, batch = cpo_setup
    seen = []
    from ctrpo_core.engine.results import UpdateResult

    monkeypatch.setattr(
        type(algo),
        "search",
        lambda self, batch, theta, step, measure, accept, reach: (
            seen.append(accept)
            or UpdateResult(kl=0.0, divergence=0.0, step_fraction=0.0, ls_tries=0, budget=batch.budget)
        ),
    )
    worse = {"reward": -1.0, "cost": -1.0, "kl": 0.0, "divergence": 0.0}
    for case in range(5):
        monkeypatch.setattr(cpo_module, "cpo_direction", lambda *a, case=case: (torch.zeros(1), case))
        state = tr.flat_params(algo.policy)
        algo.update_policy(batch)
        tr.set_flat_params(algo.policy, state)
        assert seen[-1](worse) == (case not in (2, 3)), case
    pcpo = make_algorithm(resolve("GridHazard-v0", "pcpo", seed=0), algo.env)
    pcpo.update_policy(batch)
    assert not seen[-1](worse)


def test_ppo_lag_stops_its_passes_at_the_kl_bound_and_its_rate_decays_to_zero(tmp_path):
    cfg = resolve("GridHazard-v0", "ppo-lag", seed=0)
    with make_vec_env(cfg.task, cfg.num_envs, cfg.seed) as env:
        algo = make_algorithm(cfg, env)
        algo.start()
        batch = algo.collect()
        calls, measured = [], algo.summed_kl
        algo.summed_kl = lambda *a: calls.append(measured(*a)) or calls[-1]
        algo.update(batch)
    assert calls and (len(calls) == cfg.ppo_epochs or calls[-1] > cfg.delta)
    assert all(kl <= cfg.delta for kl in calls[:-1])  # every pass but the last stayed inside the bound
    assert 1 <= len(calls) < cfg.ppo_epochs  # and here the bound did stop them
    run = api.train("GridHazard-v0", "ppo-lag", runs_dir=str(tmp_path), name="ppo", total_steps=6000)
    state = run.load_checkpoint()["algo"]["algo"]
    assert state["updates"] == 3 and state["policy_opt"]["param_groups"][0]["lr"] == pytest.approx(cfg.ppo_lr / 3)
    algo.updates = cfg.epochs
    assert algo.learning_rate() == 0.0 and resolve("GridHazard-v0", "ppo-lag").ppo_minibatch == 64


def test_actions_reach_safety_gymnasium_unclipped():
    spec = TASKS["SafetyHopperVelocity-v1"]
    buffers = SharedBuffers(__import__("multiprocessing").get_context("fork"), spec, 1)
    envs = _SliceEnvs(spec.id, 1, None, buffers.rows(slice(0, 1)))
    envs.reset([0])
    received = []
    step = envs.steps[0]  # the step the slice calls (the lean one, envs/velocity_lean.py)
    envs.steps[0] = lambda a: received.append(np.array(a)) or step(a)
    buffers.views["actions"][:] = [[1.7, -3.0, 0.25]]
    envs.step()
    np.testing.assert_array_equal(received[0], [1.7, -3.0, 0.25])  # beyond [-1, 1]: passed as sampled
    np.testing.assert_array_equal(envs.envs[0].unwrapped.data.ctrl, [1.7, -3.0, 0.25])  # and so to MuJoCo
    envs.close()


def test_runs_of_the_first_conventions_are_never_continued(tmp_path):
    run = api.train("GridHazard-v0", "c-trpo", runs_dir=str(tmp_path), name="old", total_steps=4000)
    config = json.loads((run.path / "config.json").read_text())
    del config["conventions"]  # as written before the field existed
    (run.path / "config.json").write_text(json.dumps(config))
    result = run_cli("train", "--resume", run.path, "--total-steps", "8000", timeout=60)
    assert result.returncode == 2 and "conventions 1" in result.stderr and result.stderr.count("\n") == 1


def test_each_algorithm_is_declared_in_its_own_file_and_nowhere_else():
    """The registry reads every algorithm from its own module's ALGORITHM (without importing it); its learner
    subclasses an engine family, and an own setting it declares is read by its code; no other module of the
    package spells out algorithm ids, names or colours."""
    import inspect
    from pathlib import Path

    from ctrpo_core import algos
    from ctrpo_core.config.algorithms import ALGORITHMS, ALL_SETTINGS
    from ctrpo_core.engine.first_order_step import FirstOrderAlgorithm
    from ctrpo_core.engine.trust_region_step import TrustRegionAlgorithm

    family = {"trust region": TrustRegionAlgorithm, "first order": FirstOrderAlgorithm}
    for algo, spec in ALGORITHMS.items():
        cls = algos.algorithm_class(algo)
        assert issubclass(cls, family[spec.family]), algo
        source = inspect.getsource(inspect.getmodule(cls))
        for setting in spec.settings:  # a setting declared as the algorithm's own is read by its code
            assert f"cfg.{setting.key}" in source and setting.key in ALL_SETTINGS, (algo, setting.key)
    package = Path(__file__).resolve().parents[2] / "ctrpo_core"
    keyed = re.compile("|".join(rf'"{re.escape(a)}"\s*:' for a in ALGORITHMS))  # a table keyed by algorithm id
    colours = re.compile("|".join(f'"{spec.color}"' for spec in ALGORITHMS.values()), re.IGNORECASE)
    for path in package.rglob("*.py"):
        if path.parent.name == "algos" or path.name == "algorithms.py":
            continue
        text = path.read_text()
        assert not keyed.search(text.replace('{"c-trpo": ours', "")), path  # claims' numbers are by algorithm
        assert not colours.search(text), path


# ------------------------------------------------------------------ the policy's initialisation (conventions 3)
def _last_layer(algorithm):
    return [m for m in algorithm.policy.modules() if isinstance(m, torch.nn.Linear)][-1]


def _built(task, algo, **settings):
    """The algorithm as the Trainer builds it: torch seeded, then the env, then policy and critics."""
    cfg = resolve(task, algo, **settings)
    torch.manual_seed(cfg.seed)
    env = make_vec_env(cfg.task, 1, cfg.seed)
    try:
        return make_algorithm(cfg, env)
    finally:
        env.close()


@pytest.mark.parametrize("task", ["SafetyHalfCheetahVelocity-v1", "HazardEdge-v0", "GridHazard-v0"])
def test_the_policy_starts_with_pytorchs_default_init_as_the_authors_actor(task):
    from scipy import stats

    algorithm = _built(task, "trpo-lag", seed=3)
    layers = [m for m in algorithm.policy.modules() if isinstance(m, torch.nn.Linear)]
    assert len(layers) == 3
    for layer in layers:  # every layer, the last included: weight and bias uniform within ±1/√fan_in
        bound = 1 / np.sqrt(layer.in_features)
        weights, bias = layer.weight.detach().double().numpy().ravel(), layer.bias.detach().double().numpy()
        assert np.abs(weights).max() <= bound and np.abs(bias).max() <= bound
        assert stats.kstest(weights, stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-3
        assert np.abs(weights).max() > 0.9 * bound  # not shrunk: ×0.01 would leave it under 0.01·bound
        assert np.all(bias != 0) and np.abs(bias).max() > 0.1 * bound
    if not algorithm.policy.discrete:
        assert torch.equal(algorithm.policy.log_std.detach(), torch.zeros_like(algorithm.policy.log_std))


def test_policy_init_small_is_the_earlier_layer_and_draws_the_same_random_numbers():
    after = _built("HazardEdge-v0", "c-trpo", seed=5)
    before = _built("HazardEdge-v0", "c-trpo", seed=5, policy_init="small")
    small, default = _last_layer(before), _last_layer(after)
    torch.testing.assert_close(small.weight, 0.01 * default.weight)
    assert torch.count_nonzero(small.bias) == 0
    hidden = [m for m in before.policy.modules() if isinstance(m, torch.nn.Linear)][:-1]
    for a, b in zip(hidden, [m for m in after.policy.modules() if isinstance(m, torch.nn.Linear)][:-1]):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    for a, b in zip(before.critics.parameters(), after.critics.parameters()):  # same draws: critics identical
        assert torch.equal(a, b)


def test_a_bad_policy_init_is_refused_naming_it(tmp_path):
    result = run_cli(
        "train",
        "--task",
        "GridHazard-v0",
        "--algo",
        "trpo",
        "--set",
        "policy_init=zero",
        "--runs-dir",
        tmp_path / "runs",
        timeout=60,
    )
    assert result.returncode == 2 and "policy_init" in result.stderr and "'small'" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_runs_of_conventions_2_are_shown_as_trained_but_never_continued_or_reused(tmp_path):
    from ctrpo_core.config import TrainConfig
    from ctrpo_core.sweeps.batch import classify

    run = api.train("GridHazard-v0", "c-trpo", runs_dir=str(tmp_path), name="old", total_steps=4000)
    config = json.loads((run.path / "config.json").read_text())
    assert config["conventions"] == 3 and config["policy_init"] == "default"
    config["conventions"] = 2  # as written by the previous version: no policy_init field
    del config["policy_init"]
    (run.path / "config.json").write_text(json.dumps(config))
    assert TrainConfig.from_dict(config).policy_init == "small"  # shown with the init it was trained with
    from ctrpo_core.results import catalog

    assert "policy_init=small conventions=2" in catalog.summarize_run(run.path)["label"]
    result = run_cli("train", "--resume", run.path, "--total-steps", "8000", timeout=60)
    assert result.returncode == 2 and "conventions 2" in result.stderr and result.stderr.count("\n") == 1
    planned = resolve("GridHazard-v0", "c-trpo", runs_dir=str(tmp_path), total_steps=4000)
    planned.name = "old"
    settled, jobs = classify([planned])
    assert not jobs and settled["old"].state == "conflict" and "conventions" in settled["old"].detail
