"""The ``ctrpo`` command line (its commands and exit codes: README.md, "Command line")."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .config import rules  # the commands' option ranges
from .config.algorithms import ALGORITHM_IDS, ALL_SETTINGS, readers  # the declarations: read without torch
from .config.rules import MAX_LISTED


class UsageError(Exception):
    """Invalid input: reported as one line on stderr with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse's default prints the usage too)
        raise UsageError(message)


def _cmd_tasks(args) -> int:
    from .envs import TASKS, get_spec

    specs = [get_spec(t) for t in args.ids] if args.ids else list(TASKS.values())
    width = max(len(s.id) for s in specs)
    for s in specs:
        kind = "discrete" if s.discrete else "continuous"
        print(f"{s.id:<{width}}  {s.source:<16}  obs={s.obs_dim:<4} act={s.act_dim:<3} ({kind})  b={s.cost_limit:g}")
    return 0


# the settings with an option of their own (their declarations say so); every other one is reached by --set
FLAGGED = [s for s in ALL_SETTINGS.values() if s.flag]
COMMAND_PARAMS = ("task", "algo", "resume")  # what the core names that is an option here but no setting
SWEEP_AXES = ("beta", "bh", "delta", "seed", "name")  # `ctrpo sweep` takes lists of these (name: the sweep's)
INTERRUPTED = 130  # the exit status after an interrupt (SIGINT, SIGTERM, a stop request), as shells report Ctrl-C


def option_of(param: str) -> str:
    """How the command line names a parameter the core names: a flagged setting by its option (``--beta``),
    any other setting by its key (``gamma``, as --set spells it), a command's option by its option."""
    if param.startswith("-"):
        return param
    setting = ALL_SETTINGS.get(param)
    if setting is not None:
        return setting.option if setting.flag else param
    return f"--{param}" if param in COMMAND_PARAMS else param  # an unknown --set key is named as it was typed


def _setting_help(setting) -> str:
    """An option's help, from its setting's declaration: what it is, its range, and who reads it."""
    text = setting.help
    if setting.range is not None and setting.kind in ("int", "float"):
        text += f", {setting.range.short()}"
    if setting.read_by != "all":
        text += f" (read by {', '.join(readers(setting.key))})"
    return text


def _add_setting_options(parser, exclude=()) -> None:
    """An option for every flagged setting but ``exclude``, typed, ranged and explained by its declaration."""
    for s in FLAGGED:
        if s.key in exclude:
            continue
        if s.kind == "bool":
            parser.add_argument(s.option, action="store_true", default=None, help=_setting_help(s))
        elif s.choices is not None:
            parser.add_argument(s.option, choices=s.choices, help=_setting_help(s))
        else:
            parser.add_argument(s.option, type={"int": int, "float": float}.get(s.kind, str), help=_setting_help(s))


def _user_settings(args, exclude=()) -> dict:
    """The settings given on the command line: --config FILE < --set KEY=VALUE < the options (a key given
    by both --set and an option with different values is refused); ``exclude``: options that are no setting
    here (a sweep's grid axes)."""
    from .config import overrides

    from_file = overrides.read_config_file(args.config) if args.config else {}
    given = {k: getattr(args, k, None) for k in ("task", "algo", *(s.key for s in FLAGGED)) if k not in exclude}
    settings = overrides.merge(
        ("--config", from_file), ("--set", overrides.parse_assignments(args.set)), ("flags", given)
    )
    settings.setdefault("runs_dir", str(runs_dir(None)))
    return settings


def runs_dir(given):
    """--runs-dir, else the one default runs folder ($CTRPO_RUNS_DIR or the repository's runs/); a name the
    file system refuses (too long, a NUL byte) is a usage error, a folder that does not exist is not."""
    import os
    import stat

    from .runs.store import default_runs_dir

    folder = given if given is not None else default_runs_dir()
    try:
        is_folder = stat.S_ISDIR(os.stat(folder).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return folder
    except (OSError, ValueError) as exc:
        raise UsageError(f"--runs-dir: cannot use {folder}: {getattr(exc, 'strerror', None) or exc}") from None
    if not is_folder:  # a file where the runs folder should be: no run could be in it or written to it
        raise UsageError(f"--runs-dir: {folder} is a file, not a folder")
    return folder


def _cmd_train(args) -> int:
    from . import api
    from .config import overrides
    from .config.schema import ALGORITHM_IDS
    from .runs import lifecycle
    from .runs.store import RunDir

    if args.resume:
        given = [
            k
            for k in ("task", "algo", *(s.key for s in FLAGGED), "set", "config")
            if k != "total_steps" and getattr(args, k, None) is not None
        ]
        if given:
            raise UsageError(f"--resume: continues a run with its own settings; drop --{given[0].replace('_', '-')}")
        path = args.resume
    else:
        settings = _user_settings(args)
        task, algo = settings.pop("task", None), settings.pop("algo", None)
        if task is None:
            raise UsageError("--task: required (see `ctrpo tasks`)")
        if algo is None:
            raise UsageError(f"--algo: required, one of {', '.join(ALGORITHM_IDS)}")
        if algo not in ALGORITHM_IDS:
            raise UsageError(f"--algo: unknown algorithm {algo!r}; choose from {', '.join(ALGORITHM_IDS)}")
        overrides.check_applicable(algo, settings)
        path = lifecycle.create(api.resolve(task, algo, **settings)).path
    lifecycle.train(path, progress=None, total_steps=args.total_steps if args.resume else None)
    status = RunDir(path).read_status()
    print(f"{path}: {status['state']}" + (f" ({status['message']})" if status.get("message") else ""), file=sys.stderr)
    # a stopped run is an interrupted command (130, as after Ctrl-C), so `ctrpo train ... && next` stops there too
    return {"finished": 0, "stopped": INTERRUPTED}.get(status["state"], 1)


SWEEP_PLAN_FLAGS = (
    "task",
    "algo",
    "beta",
    "bh",
    "delta",
    "seeds",
    "cost_limit",
    "total_steps",
    "steps_per_epoch",
    "num_envs",
    "set",
    "config",
    "checkpoint_every",
    "name",
    "address",
    "cpus_per_run",
)
SWEEP_STOP_WAIT_S = 300  # `ctrpo sweep --stop` waits this long for the driver and the runs to end


def _sweep_backend(kind: str, parallel, address, cpus_per_run, max_retries):
    """The backend of `ctrpo sweep` (and of `--resume`, from what the manifest kept)."""
    from .sweeps.backends import LocalBackend

    if kind == "ray":
        from .sweeps.ray import RayBackend

        return RayBackend(
            address=address,
            cpus_per_run=cpus_per_run if cpus_per_run is not None else 1.0,
            max_retries=max_retries,
            parallel=parallel,
        )
    given = [f for f, v in (("--address", address), ("--cpus-per-run", cpus_per_run)) if v is not None]
    if given:
        raise UsageError(f"{given[0]}: only with --backend ray")
    return LocalBackend(parallel)


def _only_with(flag: str, args, allowed=()) -> None:
    """Refuse the plan's flags beside --stop/--resume: those act on the plan the manifest keeps."""
    for key in SWEEP_PLAN_FLAGS + ("backend", "max_retries", "parallel", "tensorboard"):
        if key in allowed:
            continue
        value = getattr(args, key, None)
        default = {"backend": "local", "max_retries": 3, "tensorboard": False}.get(key)
        if value is not None and value != default:
            raise UsageError(
                f"--{key.replace('_', '-')}: not with {flag}, which uses the plan the sweep's manifest keeps"
            )


def _cmd_sweep_stop(args) -> int:
    import time

    from .sweeps.manifest import request_stop, sweep_status

    _only_with("--stop", args)
    folder = runs_dir(args.runs_dir)
    asked = request_stop(folder, args.stop)
    if not asked["driver"] and not asked["runs"]:
        print(f"sweep {args.stop} is not running; nothing to stop", flush=True)
        return 0
    print(
        f"sweep {args.stop}: stop requested"
        + (" of its driver and" if asked["driver"] else " of")
        + f" {len(asked['runs'])} run(s) in flight; waiting for them to checkpoint",
        flush=True,
    )
    deadline = time.monotonic() + SWEEP_STOP_WAIT_S
    while (left := sweep_status(folder, args.stop))["driver"] or left["runs"]:
        if time.monotonic() > deadline:
            print(
                f"ctrpo: error: sweep {args.stop} is still stopping after {SWEEP_STOP_WAIT_S} s: "
                f"{'its driver, ' if left['driver'] else ''}{', '.join(left['runs'])}",
                file=sys.stderr,
            )
            return 1
        request_stop(folder, args.stop)  # a run that started just now is asked too
        time.sleep(0.25)
    print(
        f"sweep {args.stop} stopped; continue it with: ctrpo sweep --resume {args.stop}"
        + (f" --runs-dir {args.runs_dir}" if args.runs_dir else ""),
        flush=True,
    )
    return 0


def _cmd_sweep(args) -> int:
    from .config import overrides
    from .sweeps.execute import resume_plan
    from .sweeps.plan import parse_list, plan_sweep

    for key in ("parallel", "max_retries", "cpus_per_run"):
        rules.check(key, getattr(args, key))
    if args.stop is not None and args.resume is not None:
        raise UsageError("--stop: not with --resume")
    if args.stop is not None:
        return _cmd_sweep_stop(args)
    if args.resume is not None:
        _only_with("--resume", args, allowed=("parallel",))
        plan = resume_plan(runs_dir(args.runs_dir), args.resume)
        if args.parallel is not None:
            plan.launch["parallel"] = args.parallel
        launch = {
            "backend": "local",
            "parallel": None,
            "address": None,
            "cpus_per_run": None,
            "max_retries": 3,
            **{k: v for k, v in plan.launch.items() if v is not None},
        }
        backend = _sweep_backend(
            launch["backend"], launch["parallel"], launch["address"], launch["cpus_per_run"], launch["max_retries"]
        )
        return _run_and_report(plan, backend)
    settings = _user_settings(args, exclude=SWEEP_AXES)
    task, algo = settings.pop("task", None), settings.pop("algo", None) or "c-trpo"
    if task is None:
        raise UsageError("--task: required (see `ctrpo tasks`)")
    axes = {
        "beta": ("--beta", args.beta, float),
        "bh": ("--bh", args.bh, float),
        "delta": ("--delta", args.delta, float),
        "seed": ("--seeds", args.seeds, int),
    }
    grid = {}
    for key, (flag, text, kind) in axes.items():
        if text is not None and key in settings:
            raise UsageError(f"{flag}: also set by --set/--config {key}=...; give the grid values once")
        grid[key] = parse_list(flag, text, kind) if text is not None else [settings.pop(key, None)]
    overrides.check_applicable(algo, {**settings, **{k: v[0] for k, v in grid.items() if v != [None]}})
    folder = settings.pop("runs_dir")
    if grid["seed"] == [None]:
        grid["seed"] = [0]
    plan = plan_sweep(
        task,
        algo,
        betas=grid["beta"],
        bhs=grid["bh"],
        deltas=grid["delta"],
        seeds=grid["seed"],
        runs_dir=folder,
        name=args.name,
        **settings,
    )
    backend = _sweep_backend(args.backend, args.parallel, args.address, args.cpus_per_run, args.max_retries)
    plan.launch = {
        "backend": args.backend,
        "parallel": args.parallel,
        "address": args.address,
        "cpus_per_run": args.cpus_per_run,
        "max_retries": args.max_retries,
    }
    return _run_and_report(plan, backend)


def _cmd_benchmark(args) -> int:
    """The paper's protocol as one sweep: its plan and cost first, then every run not finished, with progress."""
    from .config.schema import ConfigError
    from .sweeps import cost
    from .sweeps.benchmark import plan_benchmark, plan_lines
    from .sweeps.plan import parse_list
    from .util import cores as machine

    for key in ("parallel", "max_retries", "cpus_per_run"):
        rules.check(key, getattr(args, key))
    names = {
        flag: [v.strip() for v in text.split(",") if v.strip()]
        for flag, text in (("--tasks", args.tasks), ("--algos", args.algos))
        if text is not None
    }
    for flag, values in names.items():
        if not values:
            raise UsageError(f"{flag}: the list is empty")
    settings = {"cost_limit": args.cost_limit} if args.cost_limit is not None else {}
    folder = runs_dir(args.runs_dir)
    given = {"tasks": names.get("--tasks"), "algos": names.get("--algos")}
    if args.seeds is not None:
        given["seeds"] = parse_list("--seeds", args.seeds, int)
    try:
        plan = plan_benchmark(
            runs_dir=folder,
            steps=args.steps,
            name=args.name,
            **{k: v for k, v in given.items() if v is not None},
            **settings,
        )
    except ConfigError as exc:  # the setting behind a flag of another name
        flag = {"total_steps": "--steps", "seed": "--seeds", "cost_limit": "--cost-limit"}.get(exc.param)
        if flag is None:
            raise
        raise ConfigError(flag, exc.message) from None
    backend = _sweep_backend(args.backend, args.parallel, args.address, args.cpus_per_run, args.max_retries)
    plan.launch = {k: getattr(args, k) for k in ("backend", "parallel", "address", "cpus_per_run", "max_retries")}
    cores, where, joined = machine.available(), None, False
    if args.backend == "ray":  # the wall time is the cluster's: join it first (the backend then reuses the connection)
        from .sweeps.ray import import_ray, init_ray

        joined = init_ray(args.address)
        cpus = import_ray().cluster_resources().get("CPU", 0)
        cores = max(1, int(cpus // (args.cpus_per_run or 1.0)))
        where = f"on the Ray cluster's {cpus:g} CPUs"
    try:
        estimate = cost.estimate(plan.configs, cores=cores, runs_dir=folder, parallel=args.parallel)
        for line in plan_lines(plan, estimate, where or f"on {cores} core{'s' if cores != 1 else ''}"):
            print(line, flush=True)
        if args.plan_only:
            return 0
        return _run_and_report(plan, backend)
    finally:
        if joined:
            import_ray().shutdown()


def _run_and_report(plan, backend) -> int:
    """Train the plan under the sweep's lock, then one line of outcomes and the table of its runs."""
    from .sweeps.execute import run_sweep

    results = run_sweep(plan, backend, report=lambda line: print(line, flush=True))
    words = [outcome.state for outcome in results.values()]
    counts = {state: words.count(state) for state in sorted(set(words))}
    print(f"{plan.kind} {plan.name}: " + ", ".join(f"{n} {state}" for state, n in counts.items()), flush=True)
    from .results import text as result_tables

    print(result_tables.table(result_tables.list_rows(plan.runs_dir, names={c.name for c in plan.configs})), flush=True)
    return 0 if all(word == "finished" for word in words) else 1


def _cmd_demo(args) -> int:
    """C-TRPO, TRPO and TRPO-Lag on the demo task, in parallel; a table (or JSON) of their numbers."""
    import json

    from .tools import demo

    ALL_SETTINGS["seed"].check(args.seed)
    settings = {k: v for k, v in (("beta", args.beta), ("total_steps", args.total_steps)) if v is not None}
    configs = demo.plan(runs_dir(args.runs_dir), seed=args.seed, **settings)
    b = configs[0].cost_limit
    print(
        f"demo: {', '.join(c.algo for c in configs)} on {demo.TASK} (cost limit b = {b:g}, seed {args.seed}), "
        f"runs in {runs_dir(args.runs_dir)}",
        file=sys.stderr,
        flush=True,
    )
    states = demo.run(configs, report=demo.stderr_report)
    rows = [demo.summary(c) for c in configs]
    if args.json:
        keys = ("algo", "seed", "dir", "final_return", "final_cost", "reg_plus")
        print(json.dumps({"task": demo.TASK, "cost_limit": b, "runs": [{k: r[k] for k in keys} for r in rows]}))
    else:
        print(demo.table(rows, b))
    return 0 if all(states.get(c.name) == "finished" for c in configs) else 1


def _cmd_cnpg(args) -> int:
    """Exact tabular C-NPG pictures of the toy CMDP (computation in ctrpo_core.tabular.figures), written to
    --out (default <runs dir>/cnpg) under `ctrpo export`'s rule (ctrpo_core.tools.outfiles): no existing file
    without --force, never a symbolic link, never inside a run directory; every file is checked before any is
    written, and each is written atomically."""
    import importlib.util
    from pathlib import Path

    try:
        betas = [float(v) for v in args.beta.split(",")]
    except ValueError:
        betas = []
    if not betas or not all(ALL_SETTINGS["beta"].range.contains(v) for v in betas):
        raise UsageError(f"--beta: a comma-separated list of numbers >= 0, e.g. 0.0001,0.01,1,2 (got {args.beta!r})")
    for key in ("delta", "seed"):
        ALL_SETTINGS[key].check(getattr(args, key))
    rules.check("starts", args.starts)

    from .tools.outfiles import check_file, check_folder
    from .util.atomic import atomic_write_bytes

    out = Path(args.out) if args.out is not None else Path(runs_dir(args.runs_dir)) / "cnpg"
    png = importlib.util.find_spec("kaleido") is not None
    names = ("policy_space", "trust_regions", "value_curves")
    targets = [out / f"{name}.{ext}" for name in names for ext in (("html", "png") if png else ("html",))]

    def check_targets() -> None:  # every file before any is written: a refusal leaves nothing half done
        check_folder(out, param="--out", tool="cnpg", missing_ok=True)
        for target in targets:
            check_file(target, args.force, param="--out", tool="cnpg", missing_ok=True)

    check_targets()  # before the figures are computed: a refusal costs nothing

    from .tabular.figures import policy_space_figure, trust_region_figure, value_curves_figure

    positive = sorted({b for b in betas if b > 0})
    figures = {
        "policy_space": policy_space_figure(betas, n_starts=args.starts, seed=args.seed),
        "trust_regions": trust_region_figure(delta=args.delta, beta=max(betas)),
        "value_curves": value_curves_figure(betas=positive, n_starts=min(args.starts, 3), seed=args.seed),
    }
    contents = {}
    for name, fig in figures.items():
        # plotly.js inline: works offline
        contents[out / f"{name}.html"] = fig.to_html(include_plotlyjs=True, full_html=True).encode()
        if png:
            contents[out / f"{name}.png"] = fig.to_image(format="png")
    check_targets()  # again, just before writing: a file or link that appeared meanwhile is not replaced
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError, PermissionError) as exc:
        raise UsageError(f"--out: cannot use {out} as a directory ({exc.strerror})") from None
    for target, data in contents.items():
        atomic_write_bytes(target, data)  # a temporary file, then a rename: a kill never leaves half a file
    meta = figures["policy_space"].layout.meta
    for beta, crossed, over in zip(meta["betas"], meta["crossed"], meta["overshoot"]):
        print(
            f"beta={beta:g}: {crossed}/{args.starts} normalised-step paths crossed b={meta['b']:g}, "
            f"max overshoot {over:.2e}"
        )
    tr = figures["trust_regions"].layout.meta
    print(
        "trust-region areas (beta={:g}, delta={:g}): D_C {} vs KL {}".format(
            tr["beta"],
            tr["delta"],
            ", ".join(f"{a:.4f}" for a in tr["area_D_C"]),
            ", ".join(f"{a:.4f}" for a in tr["area_KL"]),
        )
    )
    print(
        f"wrote {', '.join(f'{n}.html' for n in figures)} to {out}"
        + ("" if png else " (PNG export skipped: kaleido is not installed)")
    )
    return 0


def _cmd_report(args) -> int:
    """Execute notebooks/NAME.ipynb with papermill into <runs-dir>/reports/ (logic in ctrpo_core.reports).
    SIGTERM/SIGINT stop it: exit 130, its status "stopped"."""
    from . import reports
    from .util.signals import stop_signals

    if args.name is None and not args.list:
        raise UsageError(f"report: a report name is required, one of {', '.join(reports.available())}")
    if args.list:
        for name in reports.available():
            params = ", ".join(
                f"{k}={v['default']}" for k, v in reports.parameters(name).items() if k not in reports.RESERVED
            )
            print(f"{name}: {params}")
        return 0
    reports.notebook_path(args.name)  # unknown name: exit 2 before anything is parsed or written
    pairs = args.param or []
    values = reports.parse_parameters(args.name, pairs)  # every value checked: a bad one exits 2, nothing written
    stopped, folder, runs = [], None, runs_dir(args.runs_dir)
    created = reports.missing_parents(reports.reports_dir(runs))  # what this command makes, removed on a failure

    def stop(signal_name: str) -> None:  # outside the notebook's execution (which handles its own)
        if not stopped:
            stopped.append(signal_name)
            raise reports.ReportStopped(signal_name)

    try:
        with stop_signals(stop):
            folder = reports.prepare(args.name, values, runs, texts=dict(pairs))
            print(f"report {args.name}: executing into {folder}", file=sys.stderr, flush=True)
            terminal = sys.stderr.isatty()
            if not terminal:  # off a terminal: one line per cell and the cells' output (training progress) on stderr
                import logging

                handler = logging.StreamHandler(sys.stderr)
                handler.setFormatter(logging.Formatter("%(message)s"))
                logging.getLogger("papermill").addHandler(handler)
                logging.getLogger("papermill").setLevel(logging.INFO)
            result = reports.execute(folder, progress=terminal, log_cells=not terminal)
    except reports.ReportNotStarted as exc:  # a full disk before the notebook's first save: nothing stays behind
        reports.discard(None, created)
        print(f"report {args.name}: failed: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except reports.ReportStopped:  # before or after the execution (prepare removes a folder it was making)
        if folder is not None and folder.exists():
            reports.write_status(folder, "stopped", f"stopped by {stopped[0]}", finished=reports.now())
        print(f"report {args.name}: stopped by {stopped[0]}", file=sys.stderr)
        return INTERRUPTED
    if result.state == "stopped":  # SIGTERM/SIGINT: the kernel shut down, the partial notebook kept
        message = reports.read_status(folder).get("message", "stopped")
        print(f"{folder}: {message} (the partially executed notebook is kept)", file=sys.stderr)
        return INTERRUPTED
    if result.state != "finished":
        error = result.error
        where = (
            f"cell {error['cell']}" + (f" [{error['exec_count']}]" if error.get("exec_count") else "")
            if error.get("cell") is not None
            else "execution"
        )
        print(f"report {args.name}: {where} failed: {error.get('ename')}: {error.get('evalue')}", file=sys.stderr)
        if error.get("traceback"):
            print(error["traceback"], file=sys.stderr)
        print(f"{folder}: failed (the partially executed notebook is kept there)", file=sys.stderr)
        return 1
    print(
        f"{folder}: finished in {result.duration_s:.1f} s ({result.html.name}, {result.notebook.name})", file=sys.stderr
    )
    return 0


def _cmd_eval(args) -> int:
    """N episodes of a run's latest policy: return and cost (mean ± std), share of safe episodes
    (logic in ctrpo_core.tools.evaluate)."""
    import json

    from .runs.policy import find_trained_run
    from .tools import evaluate

    evaluate.check_eval_args(args.episodes, args.seed)  # before the run: nothing is read for a bad count
    path = find_trained_run(args.run, runs_dir(args.runs_dir))
    progress = evaluate.ProgressLine(sys.stderr, label=f"eval {path.name}")
    result = evaluate.evaluate(
        path, episodes=args.episodes, deterministic=args.deterministic, seed=args.seed, progress=progress
    )
    print(json.dumps(result) if args.json else evaluate.eval_text(result), flush=True)
    return 0


def _cmd_export(args) -> int:
    """A run's latest policy as a TorchScript file: raw observation → deterministic action."""
    from .runs.policy import find_trained_run
    from .tools import export

    out = export.check_out(args.out, args.force)  # before the run: a bad --out is refused whatever RUN is
    path = find_trained_run(args.run, runs_dir(args.runs_dir))
    meta = export.export(path, out, force=args.force)
    kind = f"one of {meta['act_dim']} actions" if meta["discrete"] else f"action ({meta['act_dim']},)"
    print(
        f"wrote {out}: TorchScript policy of {path} ({meta['task']}, {meta['algo']}; raw observation "
        f"({meta['obs_dim']},) -> deterministic {kind}; load with torch.jit.load)"
    )
    return 0


def _cmd_ls(args) -> int:
    import json

    from .config.schema import ALGORITHM_IDS
    from .results import text as results

    if args.algo is not None and args.algo not in ALGORITHM_IDS:
        raise UsageError(f"--algo: unknown algorithm {args.algo!r}; choose from {', '.join(ALGORITHM_IDS)}")
    folder = runs_dir(args.runs_dir)
    if args.by_setting:
        rows = results.setting_rows(folder, task=args.task, algo=args.algo)
    else:
        rows = results.list_rows(folder, task=args.task, algo=args.algo)
    if args.json:
        print(json.dumps(rows))
    elif rows:
        print(results.setting_table(rows) if args.by_setting else results.table(rows))
    else:
        print(f"no runs in {folder}" + (" matching the filters" if args.task or args.algo else ""), file=sys.stderr)
    return 0


def _cmd_show(args) -> int:
    import json

    from .results import text as results
    from .results.catalog import find_run
    from .runs.store import DamagedRunError

    try:
        path = find_run(args.run, runs_dir(args.runs_dir))
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(f"RUN: {exc}") from None
    try:
        info = results.show(path)
    except DamagedRunError as exc:
        raise UsageError(f"RUN: {path} is damaged: {exc.reason}") from None
    print(json.dumps(info, default=str) if args.json else results.show_text(info))
    return 0


def _add_file_options(parser) -> None:
    """--set and --config: every other setting, shared by `train` and `sweep`."""
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="any training setting, e.g. --set gamma=0.995 --set hidden=128,128 (repeatable; "
        "docs/CLI.md lists the keys)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE.toml",
        help="settings from a TOML file of key = value lines; --set and options override it",
    )


RUNS_DIR_HELP = "runs folder (default: $CTRPO_RUNS_DIR, else the repository's runs/, from any working directory)"
LOOKUP_HELP = "where RUN is looked up by name (default: $CTRPO_RUNS_DIR, else the repository's runs/)"


def _add_backend_options(parser) -> None:
    """Where a batch of runs trains: --parallel, --backend, and Ray's --address, --cpus-per-run, --max-retries."""
    parser.add_argument(
        "--parallel",
        type=int,
        help=f"runs at a time, {rules.help_range('parallel')} (default: number of cores; "
        f"with ray: as the cluster's CPUs allow)",
    )
    parser.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="local: one process per run on this machine (default); ray: one Ray task per run "
        "(needs the ray extra: pip install '.[ray]')",
    )
    parser.add_argument("--address", help="ray: join the cluster at HOST:PORT (default: start a local Ray instance)")
    parser.add_argument(
        "--cpus-per-run",
        type=float,
        help=f"ray: CPUs each run requests, {rules.help_range('cpus_per_run')} (default 1)",
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=3,
        help=f"ray: retries of a run whose worker died, {rules.help_range('max_retries')}; it resumes from its last "
        f"checkpoint (default 3)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ctrpo", description="C-TRPO Explorer command line")
    parser.add_argument("--version", action="version", version=f"ctrpo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    tasks = sub.add_parser("tasks", help="list the task ids the trainer accepts")
    tasks.add_argument("ids", nargs="*", help="show only these tasks (unknown ids are an error)")
    tasks.set_defaults(func=_cmd_tasks)

    train = sub.add_parser("train", help="train one run into a run directory")
    train.add_argument("--task", help="task id (see `ctrpo tasks`)")
    train.add_argument("--algo", help=f"algorithm: {', '.join(ALGORITHM_IDS)}")
    _add_setting_options(train)
    _add_file_options(train)
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or killed run")
    train.set_defaults(func=_cmd_train)

    cnpg = sub.add_parser("cnpg", help="exact C-NPG pictures of the 2-state toy CMDP (HTML files)")
    cnpg.add_argument("--beta", default="0.0001,0.01,1,2", help="comma-separated barrier weights β >= 0 (0 = NPG)")
    cnpg.add_argument(
        "--seed",
        type=int,
        default=0,
        help=f"random seed of the safe starts, {ALL_SETTINGS['seed'].range.short()} (default 0)",
    )
    cnpg.add_argument(
        "--delta", type=float, default=0.05, help="trust radius δ > 0 of the trust-region picture (default 0.05)"
    )
    cnpg.add_argument("--starts", type=int, default=10, help="random strictly safe starts, 1-100 (default 10)")
    cnpg.add_argument(
        "--out",
        metavar="DIR",
        help="output folder, made if missing (default: RUNS_DIR/cnpg); existing files there are replaced only with "
        "--force, never through a symbolic link; never a run directory or a folder inside one",
    )
    cnpg.add_argument(
        "--force",
        action="store_true",
        help="replace existing regular files of the same names in DIR (never a symbolic link, device or FIFO)",
    )
    cnpg.add_argument(
        "--runs-dir",
        help="runs folder; the pictures go to RUNS_DIR/cnpg/ when --out is not given (default: "
        "$CTRPO_RUNS_DIR, else the repository's runs/)",
    )
    cnpg.set_defaults(func=_cmd_cnpg)

    report = sub.add_parser("report", help="execute a report notebook (notebooks/NAME.ipynb) with papermill")
    report.add_argument("name", nargs="?", help="report name (see --list)")
    report.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        metavar=("KEY", "VALUE"),
        help="set a parameter; VALUE is parsed as JSON when it can be (numbers, lists), else a string, and checked "
        "against the parameter's type and range before anything is written (a bad one exits 2 and names what it "
        "accepts)",
    )
    report.add_argument(
        "--runs-dir",
        help="runs folder; the report goes to RUNS_DIR/reports/ (default: "
        "$CTRPO_RUNS_DIR, else the repository's runs/)",
    )
    report.add_argument("--list", action="store_true", help="list the reports and their parameters")
    report.set_defaults(func=_cmd_report)

    demo = sub.add_parser("demo", help="C-TRPO, TRPO and TRPO-Lag side by side on the demo task (HazardEdge-v0)")
    demo.add_argument("--runs-dir", help=RUNS_DIR_HELP)
    demo.add_argument(
        "--seed", type=int, default=0, help=f"seed of all three runs, {ALL_SETTINGS['seed'].range.short()} (default 0)"
    )
    demo.add_argument("--beta", type=float, help="C-TRPO's barrier weight β >= 0 (default 1)")
    demo.add_argument(
        "--total-steps",
        type=int,
        help=f"environment steps per run, {ALL_SETTINGS['total_steps'].range.short()} (default: the task's)",
    )
    demo.add_argument(
        "--json",
        action="store_true",
        help='print only {"task", "cost_limit", "runs": [{"algo", "seed", "dir", "final_return", '
        '"final_cost", "reg_plus"}]} on stdout',
    )
    demo.set_defaults(func=_cmd_demo)

    evaluate = sub.add_parser("eval", help="evaluate a run's latest policy over N episodes (return, cost, safe share)")
    evaluate.add_argument("run", metavar="RUN", help="a run directory, or the name of a run in --runs-dir")
    evaluate.add_argument(
        "--episodes",
        type=int,
        default=10,
        help=f"episodes to run, {rules.help_range('episodes')} (default 10; statistics are streamed)",
    )
    evaluate.add_argument(
        "--deterministic",
        action="store_true",
        help="the policy's most likely action (Gaussian mean, Categorical argmax) instead of a sample",
    )
    evaluate.add_argument(
        "--seed",
        type=int,
        default=0,
        help=f"seed of the envs and the sampled actions, {rules.help_range('eval_seed')} (default 0)",
    )
    evaluate.add_argument(
        "--json",
        action="store_true",
        help='print only {"run", "task", "episodes", "deterministic", "seed", "cost_limit", '
        '"return_mean", "return_std", "cost_mean", "cost_std", "safe_fraction", "returns", '
        '"costs"} on stdout ("returns" and "costs": per episode, null beyond '
        f"{MAX_LISTED} episodes)",
    )
    evaluate.add_argument("--runs-dir", help=LOOKUP_HELP)
    evaluate.set_defaults(func=_cmd_eval)

    export = sub.add_parser("export", help="write a run's latest policy as TorchScript (raw observation -> action)")
    export.add_argument("run", metavar="RUN", help="a run directory, or the name of a run in --runs-dir")
    export.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the TorchScript file to write (its folder must exist; never inside a run directory)",
    )
    export.add_argument(
        "--force",
        action="store_true",
        help="replace an existing regular file FILE (never a symbolic link, device or FIFO)",
    )
    export.add_argument("--runs-dir", help=LOOKUP_HELP)
    export.set_defaults(func=_cmd_export)

    ls = sub.add_parser("ls", help="list the runs: settings, state, progress and final numbers")
    ls.add_argument("--runs-dir", help=RUNS_DIR_HELP)
    ls.add_argument("--task", help="only runs of this task")
    ls.add_argument("--algo", help="only runs of this algorithm")
    ls.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of {"
        + ", ".join(
            f'"{k}"'
            for k in (
                "name",
                "path",
                "task",
                "algo",
                "beta",
                "bh",
                "delta",
                "seed",
                "state",
                "message",
                "epoch",
                "epochs",
                "final_return",
                "final_cost",
                "reg_plus",
                "label",
                "finished",
                "values",
            )
        )
        + '} ("values": "final" once the run trained every '
        'planned epoch, "so far" before, null without an epoch); with --by-setting one object per '
        'setting: "setting", "label", "finished" (runs that count), "seeds" (theirs), "not_counted" '
        "(the others, in words), and the medians and IQMs of return, cost and Reg+",
    )
    ls.add_argument(
        "--by-setting",
        action="store_true",
        help="one line per setting (every result-changing setting but the seed): how many runs finished, "
        "the medians over them, and the runs that do not count because they have not finished",
    )
    ls.set_defaults(func=_cmd_ls)

    show = sub.add_parser("show", help="one run: settings, status, last metrics, text plots of return and cost")
    show.add_argument("run", metavar="RUN", help="a run directory, or a run name in --runs-dir")
    show.add_argument("--runs-dir", help=LOOKUP_HELP)
    show.add_argument(
        "--json",
        action="store_true",
        help='print {"name", "path", "state", "config", "status", "last_metrics", "final", "curves"}',
    )
    show.set_defaults(func=_cmd_show)

    sweep = sub.add_parser(
        "sweep", help="train a grid over β × b_H × δ × seeds (skips finished runs); stop or resume a whole sweep"
    )
    sweep.add_argument(
        "--stop",
        metavar="NAME",
        help="stop sweep NAME: its driver starts no further run and every run of it stops at a "
        "checkpoint (request files, never a signal); waits until they have stopped",
    )
    sweep.add_argument(
        "--resume",
        metavar="NAME",
        help="train sweep NAME again from the plan its manifest keeps: finished runs are skipped, "
        "stopped ones resume (only --runs-dir and --parallel may be given with it)",
    )
    sweep.add_argument("--task", help="task id (see `ctrpo tasks`)")
    sweep.add_argument("--algo", help="algorithm (default c-trpo)")
    sweep.add_argument("--beta", help="comma list of β values (c-trpo only; default 1)")
    sweep.add_argument("--bh", help="comma list of b_H values (c-trpo only; default 0.8)")
    sweep.add_argument("--delta", help="comma list of δ values (default: the task's δ)")
    sweep.add_argument("--seeds", help="comma list of seeds (default 0)")
    _add_setting_options(sweep, exclude=SWEEP_AXES)  # the grid's axes (lists, above) and the sweep's name
    _add_file_options(sweep)
    sweep.add_argument("--name", help="sweep name, the prefix of its run names (default sweep-TASK-ALGO)")
    _add_backend_options(sweep)
    sweep.set_defaults(func=_cmd_sweep)

    bench = sub.add_parser(
        "benchmark",
        help="the paper's benchmark: tasks × algorithms × seeds at a step budget, here or on a Ray cluster "
        "(states its plan and CPU-hours first; reuses finished runs, resumes the others)",
    )
    bench.add_argument(
        "--tasks",
        help="comma list of task ids or sets: paper (the eight tasks of the paper), velocity, navigation "
        "(default paper)",
    )
    bench.add_argument("--algos", help="comma list of algorithms (default: all of them); PPO and CPO are always added")
    bench.add_argument("--seeds", help="comma list of seeds (default: the paper's five, 0 to 4)")
    bench.add_argument(
        "--steps",
        "--total-steps",
        dest="steps",
        type=int,
        help="environment steps per run (default: the paper's 10M)",
    )
    bench.add_argument("--cost-limit", type=float, help="the cost limit b of every task (default: each task's)")
    bench.add_argument("--name", help="benchmark name (default paper-<steps>, e.g. paper-10M)")
    bench.add_argument("--runs-dir", help=RUNS_DIR_HELP)
    bench.add_argument("--plan-only", action="store_true", help="state the plan and its cost, train nothing")
    _add_backend_options(bench)
    bench.set_defaults(func=_cmd_benchmark)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .config.schema import ConfigError
    from .envs import UnknownTaskError

    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except (UsageError, UnknownTaskError, ConfigError) as exc:
        message = (
            f"{option_of(exc.param)}: {exc.message}"
            if isinstance(exc, ConfigError)
            else (exc.args[0] if exc.args else str(exc))
        )
        print(f"ctrpo: error: {' '.join(str(message).split())}", file=sys.stderr)  # always one line
        return 2
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception as exc:  # a write the disk refused (full, quota, read-only): one line, exit 1
        from .runs.lifecycle import TrainingWriteError

        if not isinstance(exc, (OSError, TrainingWriteError)):
            raise
        print(f"ctrpo: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
