"""Property-based fuzzing of the command line's inputs (issue 19): values for every option of every
subcommand, ``--set`` keys and ``--config`` TOML files. Whatever is typed, ``ctrpo`` exits 0 or 2 (1 only
for a run that trained and failed, as documented), never with a traceback, and writes nothing when it
exits 2.

``ctrpo_core.cli.main`` runs in this process (a process per example would spend its time importing
torch): it is what the console script calls, with the same exit statuses, and it never calls
``sys.exit`` itself. Every example works in a sandbox folder (the working directory and
``$CTRPO_RUNS_DIR``). No example trains for long: ``train`` gets budgets of at most 128 steps or invalid
ones, and ``sweep``, ``demo`` and ``report`` always carry one invalid value (checked last), so they are
refused after everything else was parsed and checked. About a minute in all (derandomized: the same
examples every time).
"""

import collections
import contextlib
import io
import json
import os
import shutil
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ctrpo_core import api, cli, reports  # noqa: E402
from ctrpo_core.config import overrides  # noqa: E402
from ctrpo_core.config.algorithms import ALL_SETTINGS  # noqa: E402

SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def fuzz(examples: int):
    return settings(SETTINGS, max_examples=examples)


BUILT_IN = ["GridHazard-v0", "HazardEdge-v0", "PointHazard-v0"]  # fast to build; Safety-Gymnasium is not
ALGOS = ["c-trpo", "trpo", "trpo-lag", "cpo", "pcpo", "ppo-lag"]

# --------------------------------------------------------------------------------------------- values
words = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=12)
odd_text = st.one_of(
    words,
    st.sampled_from(
        [
            "",
            " ",
            "-",
            "--",
            "nan",
            "inf",
            "-inf",
            "1e999",
            "0x10",
            "1_000",
            "none",
            "true",
            "..",
            "/",
            "a" * 300,
            "é",
            "64,64",
            ",",
            "1,,2",
        ]
    ),
)
small_ints = st.one_of(st.integers(-3, 20), st.sampled_from([2**31, 2**32, 2**63, 10**13, -(2**63), 10**30]))
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), small_ints)


def number_text(values=numbers):
    return st.one_of(values.map(str), odd_text)


budget = st.sampled_from([-1, 0, 1, 4, 64, 128, 10**13, 2**64])  # never a long valid run
budget_text = st.one_of(budget.map(str), odd_text)
task_text = st.one_of(st.sampled_from(BUILT_IN), st.sampled_from(["Nope-v0", "", "gridhazard-v0"]))
algo_text = st.one_of(st.sampled_from(ALGOS), odd_text)
# a --set value per key: small or invalid numbers (a valid 10,000 CG iterations would be slow, not wrong)
SET_VALUES = {
    "task": task_text,
    "total_steps": budget_text,
    "steps_per_epoch": budget_text,
    "hidden": st.one_of(st.lists(st.integers(-2, 16), max_size=3).map(lambda v: ",".join(map(str, v))), odd_text),
}


def set_pairs():
    key = st.one_of(st.sampled_from(overrides.SETTABLE), odd_text)
    garbage = key.flatmap(lambda k: (SET_VALUES[k] if k in SET_VALUES else number_text()).map(lambda v: f"{k}={v}"))
    return st.lists(st.one_of(st.sampled_from(VALID_SETS), st.sampled_from(VALID_SETS), garbage), max_size=3)


# settings that train (briefly) when the rest is valid, so that accepted inputs are fuzzed too
VALID_SETS = [
    "gamma=0.95",
    "lam=0.9",
    "hidden=8,8",
    "critic_passes=2",
    "cg_iters=5",
    "normalize_obs=false",
    "episode_window=5",
    "max_episode_steps=20",
    "torch_threads=1",
    "ls_tries=3",
    "critic_lr=0.01",
    "beta=0.5",
    "bh=0.9",
    "barrier=log",
    "delta=0.05",
    "cost_limit=2",
    "seed=3",
    "checkpoint_every=1",
    "lagrange_lr=0.1",
    "ppo_epochs=2",
    "ppo_minibatch=16",
    "critic_minibatch=32",
]


@st.composite
def some_invalid(draw, options):
    """One value per option: the valid one, except for at most two options drawn at random (often none), so
    that accepted inputs are fuzzed as much as refused ones and each refusal is of one or two values."""
    spoiled = draw(st.one_of(st.just(set()), st.sets(st.integers(0, len(options) - 1), min_size=1, max_size=2)))
    return [a for i, (valid, invalid) in enumerate(options) for a in draw(invalid if i in spoiled else valid)]


toml_value = st.recursive(
    st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True, allow_infinity=True), words),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)


def toml_literal(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(value, "nan" if value != value else repr(value))
    if isinstance(value, (int,)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    return "[" + ", ".join(toml_literal(v) for v in value) + "]"


def small_toml_value(key):
    if key in ("total_steps", "steps_per_epoch"):
        return budget
    if key in ("task",):
        return task_text
    if key in ALL_SETTINGS and ALL_SETTINGS[key].kind == "int":  # counts: small or invalid
        return st.one_of(small_ints, words)
    return toml_value


toml_files = st.one_of(
    st.lists(
        st.sampled_from(VALID_SETS).map(
            lambda kv: f"{kv.split('=')[0]} = {toml_literal(overrides.parse_value(*kv.split('=')))}"
        ),
        max_size=3,
        unique=True,
    ).map("\n".join),
    st.lists(
        st.one_of(st.sampled_from(overrides.SETTABLE), st.sampled_from(["train", "nope", "x y"])).flatmap(
            lambda k: small_toml_value(k).map(lambda v: f"{json.dumps(k)} = {toml_literal(v)}")
        ),
        max_size=4,
    ).map("\n".join),
    st.sampled_from(["[train]\nbeta = 2", "beta = ", "[[x]]", "a = {b = 1}", "\0", "hidden = " + "[" * 500]),
    words,
)
paths = st.sampled_from(
    [
        "runs",
        "runs/good",
        "runs/good/checkpoint.pt",
        "runs/good/config.json",
        "new.pt",
        "exists.pt",
        "afile",
        "afile/x",
        "adir",
        "link.pt",
        "fifo",
        "missing/x.pt",
        "",
        ".",
        "..",
        "/proc/x.pt",
        "/sys/x.pt",
        "/dev/full",
        "/dev/null",
        "a" * 300,
        "b" * 300 + "/x.pt",
        "runs/" + "c" * 300,
    ]
)
runs_dirs = st.sampled_from(
    [
        "runs",
        "runs/good",
        "runs/good/config.json",
        "afile",
        "afile/x",
        "adir",
        "fifo",
        "link.pt",
        "missing/deeper",
        "",
        "/proc/x",
        "/sys/x",
        "/dev/null",
        "a" * 300,
        "b" * 300 + "/x",
    ]
)  # never outside the sandbox
run_names = st.one_of(
    st.sampled_from(
        ["good", "runs/good", "nope", "", ".", "..", "runs", "a" * 300, "afile", "link.pt", "fifo", "/proc/self"]
    ),
    words,
)


def optional(flag, values):
    """[] or [flag, value]."""
    return st.one_of(st.just([]), values.map(lambda v: [flag, str(v)]))


def flag(name):
    return st.sampled_from([[], [name]])


def combine(*parts):
    return st.tuples(*parts).map(lambda groups: [a for g in groups for a in g])


# --------------------------------------------------------------------------------------------- sandbox
@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A working folder with a finished run, files, a link and a FIFO that the examples may point at."""
    root = tmp_path_factory.mktemp("fuzz")
    api.train(
        "GridHazard-v0",
        "c-trpo",
        total_steps=256,
        steps_per_epoch=128,
        num_envs=4,
        runs_dir=str(root / "runs"),
        name="good",
    )
    (root / "exists.pt").write_bytes(b"a file the user owns")
    (root / "afile").write_text("not a folder")
    (root / "adir").mkdir()
    (root / "link.pt").symlink_to(root / "exists.pt")
    os.mkfifo(root / "fifo")
    (root / "settings.toml").write_text("")
    BASELINE.update(snapshot(root))
    return root


BASELINE: dict = {}  # the sandbox's entries before any example
STATUSES: dict = {}  # {command: Counter of exit statuses}: the fuzzing reached both outcomes


def snapshot(root: Path) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            try:
                info = os.lstat(p)
            except OSError:
                continue
            out[str(p.relative_to(root))] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return out


def run(sandbox: Path, argv: list[str], toml: str | None = None, may_train: bool = False):
    """``ctrpo ARGV`` in the sandbox; checks the exit status and that a refusal wrote nothing."""
    if toml is not None:
        (sandbox / "settings.toml").write_text(toml, errors="replace")
    before = snapshot(sandbox)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(sandbox), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        old = os.environ.get("CTRPO_RUNS_DIR")
        os.environ["CTRPO_RUNS_DIR"] = str(sandbox / "runs")
        try:
            status = cli.main(argv)
        except SystemExit as exc:  # --help / --version only
            status = exc.code
        finally:
            if old is None:
                os.environ.pop("CTRPO_RUNS_DIR", None)
            else:
                os.environ["CTRPO_RUNS_DIR"] = old
    message = err.getvalue()
    STATUSES.setdefault(argv[0] if argv else "", collections.Counter())[status] += 1
    allowed = (0, 1, 2) if may_train else (0, 2)
    assert status in allowed, (argv, status, message[-2000:])
    assert "Traceback" not in message, (argv, message[-2000:])
    if status == 1:  # documented: a run that trained and failed (e.g. non-finite numbers)
        assert "failed" in message, (argv, message[-2000:])
    if status == 2:
        assert message.startswith("ctrpo: error:") and len(message.strip().splitlines()) == 1, (argv, message)
        assert snapshot(sandbox) == before, (argv, message)
    for folder in (sandbox, sandbox / "runs", sandbox / "adir"):  # what valid examples made: keep the sandbox small
        for leftover in list(folder.iterdir()):
            if str(leftover.relative_to(sandbox)) not in BASELINE:
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
    return status


# --------------------------------------------------------------------------------------------- commands
@fuzz(25)
@given(
    argv=st.one_of(
        st.lists(odd_text, max_size=3).map(lambda ids: ["tasks", *ids]),
        st.lists(st.sampled_from(BUILT_IN), max_size=2).map(lambda ids: ["tasks", *ids]),
        st.lists(odd_text, max_size=3),
        st.sampled_from([["--version"], ["train", "--help"]]),
    )
)
def test_fuzz_tasks_and_stray_words(sandbox, argv):
    run(sandbox, argv)


@fuzz(60)
@given(
    argv=st.one_of(
        some_invalid(
            [
                (st.just(["ls"]), st.just(["ls"])),
                (st.sampled_from([[], ["--runs-dir", "runs"]]), optional("--runs-dir", st.one_of(runs_dirs, odd_text))),
                (st.sampled_from([[], ["--task", "GridHazard-v0"]]), optional("--task", odd_text)),
                (st.sampled_from([[], ["--algo", "c-trpo"]]), optional("--algo", algo_text)),
                (flag("--json"), flag("--json")),
            ]
        ),
        some_invalid(
            [
                (st.just(["show"]), st.just(["show"])),
                (st.sampled_from([["good"], ["runs/good"]]), run_names.map(lambda r: [r])),
                (st.sampled_from([[], ["--runs-dir", "runs"]]), optional("--runs-dir", st.one_of(runs_dirs, odd_text))),
                (flag("--json"), flag("--json")),
            ]
        ),
    )
)
def test_fuzz_ls_and_show(sandbox, argv):
    run(sandbox, argv)


@fuzz(40)
@given(
    argv=some_invalid(
        [
            (st.sampled_from([["good"], ["runs/good"]]), run_names.map(lambda r: [r])),
            (
                st.sampled_from([["--episodes", "1"], ["--episodes", "3"], []]),
                optional("--episodes", st.one_of(st.sampled_from([-1, 0, 10**6 + 1, 10**9]), odd_text)),
            ),
            (st.sampled_from([[], ["--seed", "5"]]), optional("--seed", number_text(small_ints))),
            (flag("--deterministic"), flag("--deterministic")),
            (flag("--json"), flag("--json")),
            (st.sampled_from([[], ["--runs-dir", "runs"]]), optional("--runs-dir", runs_dirs)),
        ]
    )
)
def test_fuzz_eval(sandbox, argv):
    run(sandbox, ["eval", *argv])


@fuzz(40)
@given(
    argv=some_invalid(
        [
            (st.sampled_from([["good"], ["runs/good"]]), run_names.map(lambda r: [r])),
            (
                st.sampled_from([["--out", "new.pt"], ["--out", "adir/p.pt"]]),
                st.one_of(paths, odd_text).map(lambda p: ["--out", p]),
            ),
            (flag("--force"), flag("--force")),
            (st.sampled_from([[], ["--runs-dir", "runs"]]), optional("--runs-dir", runs_dirs)),
        ]
    )
)
def test_fuzz_export(sandbox, argv):
    before = (sandbox / "exists.pt").read_bytes(), (sandbox / "runs" / "good" / "checkpoint.pt").read_bytes()
    run(sandbox, ["export", *argv])
    out, force = argv[argv.index("--out") + 1] if "--out" in argv else None, "--force" in argv
    assert (sandbox / "link.pt").is_symlink() and not (sandbox / "fifo").is_file()
    assert (sandbox / "runs" / "good" / "checkpoint.pt").read_bytes() == before[1]  # a run's files: never
    if out == "exists.pt" and force:  # replaced only on --force: restore the user's file for the next example
        (sandbox / "exists.pt").write_bytes(before[0])


def train_options():
    return some_invalid(
        [
            (st.sampled_from([["--task", t] for t in BUILT_IN]), optional("--task", task_text)),
            (st.sampled_from([["--algo", a] for a in ALGOS]), optional("--algo", algo_text)),
            (st.sampled_from([[], ["--beta", "2"]]), optional("--beta", number_text())),
            (st.sampled_from([[], ["--bh", "0.5"]]), optional("--bh", number_text())),
            (st.sampled_from([[], ["--barrier", "log"]]), optional("--barrier", st.sampled_from(["entropy", "x"]))),
            (st.sampled_from([[], ["--delta", "0.02"]]), optional("--delta", number_text())),
            (st.sampled_from([[], ["--cost-limit", "3"]]), optional("--cost-limit", number_text())),
            (st.just(["--total-steps", "128"]), budget_text.map(lambda v: ["--total-steps", v])),
            (
                st.sampled_from([["--steps-per-epoch", "64"], ["--steps-per-epoch", "128"]]),
                budget_text.map(lambda v: ["--steps-per-epoch", v]),
            ),
            (
                st.sampled_from([["--num-envs", "2"], ["--num-envs", "4"]]),
                optional("--num-envs", number_text(st.sampled_from([-1, 0, 1, 1024, 1025]))),
            ),
            (st.just([]), optional("--runs-dir", runs_dirs)),
            (
                st.sampled_from([[], ["--checkpoint-every", "1"]]),
                optional("--checkpoint-every", number_text(small_ints)),
            ),
            (st.sampled_from([[], ["--seed", "7"]]), optional("--seed", number_text(small_ints))),
            (st.just([]), optional("--name", st.one_of(odd_text, run_names))),
            (
                st.lists(st.sampled_from(VALID_SETS), max_size=2, unique_by=lambda kv: kv.split("=")[0]).map(
                    lambda pairs: [a for p in pairs for a in ("--set", p)]
                ),
                set_pairs().map(lambda pairs: [a for p in pairs for a in ("--set", p)]),
            ),
            (
                st.sampled_from([[], ["--config", "settings.toml"]]),
                st.sampled_from(
                    [
                        ["--config", "missing.toml"],
                        ["--config", "fifo"],
                        ["--config", "adir"],
                        ["--config", "settings.toml"],
                    ]
                ),
            ),
        ]
    )


@fuzz(120)
@given(options=train_options(), toml=toml_files)
def test_fuzz_train(sandbox, options, toml):
    run(sandbox, ["train", *options], toml=toml, may_train=True)


@fuzz(15)
@given(
    run_name=run_names,
    total=optional("--total-steps", budget_text),
    extra=st.sampled_from([[], ["--beta", "2"], ["--set", "gamma=0.9"], ["--tensorboard"]]),
)
def test_fuzz_train_resume(sandbox, run_name, total, extra):
    run(sandbox, ["train", "--resume", run_name, *total, *extra], may_train=True)


@fuzz(30)
@given(
    options=combine(
        optional("--task", task_text),
        optional("--algo", algo_text),
        optional("--beta", st.lists(number_text(), min_size=1, max_size=3).map(",".join)),
        optional("--bh", st.lists(number_text(), min_size=1, max_size=2).map(",".join)),
        optional("--delta", st.lists(number_text(), min_size=1, max_size=2).map(",".join)),
        budget_text.map(lambda v: ["--total-steps", v]),
        optional("--steps-per-epoch", budget_text),
        optional("--runs-dir", runs_dirs),
        optional("--name", st.one_of(odd_text, run_names)),
        optional("--parallel", number_text(small_ints)),
        optional("--backend", st.sampled_from(["local", "ray", "x"])),
        optional("--address", odd_text),
        optional("--cpus-per-run", number_text()),
        optional("--max-retries", number_text(small_ints)),
        set_pairs().map(lambda pairs: [a for p in pairs for a in ("--set", p)]),
        st.sampled_from([[], ["--config", "settings.toml"]]),
    ),
    seeds=st.lists(st.integers(0, 3), max_size=2),
    toml=toml_files,
)
def test_fuzz_sweep_is_refused_before_it_writes(sandbox, options, seeds, toml):
    # the seed -1 is checked last (with the grid), so every other option was parsed and checked first
    run(sandbox, ["sweep", *options, "--seeds", ",".join(map(str, [*seeds, -1]))], toml=toml)


@fuzz(20)
@given(
    options=combine(
        optional("--runs-dir", runs_dirs),
        optional("--seed", number_text(small_ints)),
        optional("--beta", number_text()),
        flag("--json"),
    ),
    total=st.sampled_from(["-1", "0", str(10**13), "x"]),
)
def test_fuzz_demo_is_refused_before_it_writes(sandbox, options, total):
    run(sandbox, ["demo", *options, "--total-steps", total])


@fuzz(25)
@given(
    name=st.one_of(st.sampled_from(reports.available()), odd_text),
    pairs=st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from(
                    [
                        "reference",
                        "regret_reference",
                        "task",
                        "tasks",
                        "seeds",
                        "betas",
                        "total_steps",
                        "runs_dir",
                        "algos",
                    ]
                ),
                odd_text,
            ),
            st.one_of(
                odd_text, st.sampled_from(['["GridHazard-v0"]', "[]", "[1, -1]", "ppo", "trpo", "null", "1e400"])
            ),
        ),
        max_size=3,
    ),
    runs_dir=optional("--runs-dir", runs_dirs),
    listing=st.sampled_from([[], [], ["--list"]]),
)
def test_fuzz_report_is_refused_before_it_writes(sandbox, name, pairs, runs_dir, listing):
    params = [a for key, value in pairs for a in ("-p", key, value)]
    # an unknown parameter last: nothing executes, every earlier value was checked (or --list prints)
    run(sandbox, ["report", name, *params, "-p", "no_such_parameter", "1", *runs_dir, *listing])


@fuzz(12)
@given(
    options=combine(
        optional("--beta", st.lists(number_text(), min_size=1, max_size=2).map(",".join)),
        optional("--seed", number_text(small_ints)),
        optional("--delta", number_text()),
        optional("--out", runs_dirs),
    ),
    starts=st.sampled_from(["-1", "0", "101", str(10**9), "x", "1"]),
)
@example(options=["--beta", "1,10"], starts="1")  # one valid picture at least, whatever the draws
def test_fuzz_cnpg(sandbox, options, starts):
    if starts == "1" and "--out" not in options:
        options = [*options, "--out", "adir/figures"]  # a valid picture goes to the sandbox, not runs/cnpg
    run(sandbox, ["cnpg", *options, "--starts", starts])


def test_fuzzing_reached_accepted_and_refused_inputs():
    """The examples above are not all refused at the first option: each command that may succeed did."""
    if not STATUSES:
        pytest.skip("run with the fuzz tests above")
    print({command: dict(counts) for command, counts in STATUSES.items()})
    for command in ("tasks", "show", "eval", "export", "train", "cnpg"):  # ls refuses little: it filters
        assert {0, 2} <= set(STATUSES.get(command, {})), (command, STATUSES.get(command))
    assert 0 in STATUSES.get("ls", {})
    for command in ("sweep", "demo", "report"):  # always given one invalid value; --list aside
        assert 2 in STATUSES.get(command, {}), (command, STATUSES.get(command))
