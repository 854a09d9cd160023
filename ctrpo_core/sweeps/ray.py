"""Ray as the backend of ``ctrpo sweep --backend ray``: each run is a Ray task, results come home.

Ray is an optional extra (``pip install .[ray]``); nothing here imports it at module level.

How a run travels:

- The driver (the ``ctrpo sweep`` process) starts a :class:`RunSink` actor pinned to its own node.
  The sink owns the run directories of the sweep on the driver's filesystem.
- The driver creates the run directories (``lifecycle.create``), then each grid point is a task
  (:func:`train_task`, ``num_cpus=--cpus-per-run``). It claims its run at the sink, which becomes the
  run's owner on the driver (the run's lock, as a local training process holds it) and answers with the
  driver's copy of the run (config, metrics, checkpoint if any). The task trains with the ordinary
  ``lifecycle.train`` into a scratch run directory on the worker (:class:`RemoteRunDir`), which forwards
  every write (config, status, metrics rows, checkpoints, log lines, metrics rewrites) to the sink, in
  order. Workers need no shared filesystem, and the app reads remote runs exactly like local ones.
- A worker that dies (a system failure) makes Ray retry the task (``max_retries``); the retry claims
  the run again, gets the latest checkpoint the driver holds, and resumes from it (metrics rewritten
  from the checkpoint). A run that fails for its
  own reasons (non-finite values: state 'failed'; an exception) is not retried
  (``retry_exceptions=False``).
- A stale attempt (one the sink no longer considers the run's owner) has its writes ignored and is
  told to stop. The sink also passes on stop requests: the driver's SIGINT/SIGTERM, or the app's
  Stop button (a ``.stop-request`` file in the run directory).

status.json of a remote run keeps the contract's keys ("pid" is the worker's process) and adds
"host" (the worker's machine), "backend": "ray", "node" (the Ray node that trains it) and
"sink_host"/"sink_pid"/"sink_node" (the sink's process on the driver's machine). Whether the run is alive
is the lock the sink holds, as for every run (``lifecycle.state``).

Tasks never block in ``ray.get`` (see :func:`wait_for`): a blocked task lends its CPUs to the next
queued one, which would put more runs than cores on a node.
"""

from __future__ import annotations

import collections
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from ..config.schema import ConfigError, TrainConfig, validate_name
from ..runs import lifecycle
from ..runs.store import CHECKPOINT, HOST, METRICS, STOP_REQUEST, RunDir
from ..util.signals import stop_signals
from .batch import Outcome

INSTALL_HINT = (
    "Ray is not installed; install the extra with `pip install '.[ray]'` (or `pip install -r requirements/ray.txt`)"
)
POLL_S = 1.0  # how often a task asks the sink whether to stop
NOT_STARTED = "not started"  # a task that found the sweep stopping before it began
BUSY = "running elsewhere"  # a task whose run another process owns on the driver
MAX_PENDING = 64  # forwarded writes a task may have in flight before it waits for the oldest


def import_ray():
    """The ``ray`` module, or ConfigError('--backend', how to install it) (exit 2 on the command line)."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend", f"ray: {INSTALL_HINT}") from None
    return ray


def check_address(address: str | None) -> None:
    """A cluster address is HOST:PORT (the head's GCS, as `ray start --head` prints it) or 'auto'."""
    if address is None or address == "auto":
        return
    if address.startswith("ray://"):
        raise ConfigError(
            "--address",
            "Ray Client addresses (ray://) are not supported: run `ctrpo sweep` on a node "
            "of the cluster (after `ray start`) and pass the head's HOST:PORT",
        )
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in address):
        raise ConfigError(
            "--address", f"expected HOST:PORT of the Ray head (e.g. 10.0.0.1:6379) or 'auto', got {address!r}"
        )


def init_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to the cluster at ``address``, or start a local instance; True if this call started
    or joined one (then the caller shuts it down), False if Ray was already initialised here."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # Ray reports nothing anywhere
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address is not None:
        check_address(address)
        try:
            ray.init(address=address, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise ConfigError(
                "--address",
                f"cannot join the Ray cluster at {address!r} ({exc}); is `ray start` "
                f"running there, and with token authentication are RAY_AUTH_MODE=token "
                f"and the head's token set here? (README: Sweeps on a Ray cluster)",
            ) from None
        return True
    # A private local instance whose processes all bind the loopback address only: Ray does so where
    # it supports no clusters, a switch read from the environment (by the processes ray.init starts,
    # and the raylet's workers after them) and, in this process, at import.
    switch = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
    saved_env = os.environ.get(switch)
    try:
        from ray._private import ray_constants
    except ImportError:
        ray_constants = None
    saved_constant = getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
    os.environ[switch] = "0"
    if saved_constant is not None:
        ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, log_to_driver=False)
    finally:
        if saved_env is None:
            os.environ.pop(switch, None)
        else:
            os.environ[switch] = saved_env
        if saved_constant is not None:
            ray_constants.ENABLE_RAY_CLUSTER = saved_constant
    return True


# ---------------------------------------------------------------------------------------------- driver side
class RunSink:
    """Lives on the driver's node (a Ray actor, one call at a time) and writes the run directories.

    It owns each run it hands out (the run's lock) until the driver releases it after the task's end,
    so local processes, other sweeps and the app see the run as running while any attempt may write."""

    def __init__(self, root: str):
        import ray

        self.root = Path(root)
        self.node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
        self.owners: dict[str, int] = {}  # run name -> token of the attempt that owns it
        self.ownerships: dict = {}  # run name -> the run's lock, held here
        self.attempts: dict[str, int] = {}
        self.events: list[str] = []
        self.stopping = False

    def _run(self, name: str, token: int | None = None) -> RunDir | None:
        validate_name(name)
        if token is not None and self.owners.get(name) != token:
            return None  # a stale attempt: its writes are dropped
        return RunDir(self.root / name)

    def pid(self) -> int:
        return os.getpid()

    def claim(self, name: str, host: str, pid: int) -> tuple[int | None, dict]:
        """Make the caller the run's owner; returns its token (None: do not start; the dict says why when
        another process owns the run) and the driver's copy of the run."""
        run = self._run(name)
        if self.stopping:
            return None, {}
        if name not in self.ownerships:
            try:
                self.ownerships[name] = lifecycle.own(run)
            except ConfigError as exc:
                self.events.append(f"{BUSY}: {exc}")
                return None, {"busy": str(exc)}
        self.attempts[name] = self.attempts.get(name, 0) + 1
        token = self.owners[name] = max(self.owners.values(), default=0) + 1
        copy = {"config": run.read_config(), "status": run.read_status(), "metrics": (run.path / METRICS).read_text()}
        if run.has_checkpoint():
            copy["checkpoint"] = (run.path / CHECKPOINT).read_bytes()
        what = f"resumed at epoch {copy['status'].get('epoch', '?')}" if "checkpoint" in copy else "new"
        attempt = f", attempt {self.attempts[name]}" if self.attempts[name] > 1 else ""
        self.events.append(f"started {name} ({what}{attempt}) on {host}, pid {pid}")
        return token, copy

    def release(self, name: str) -> None:
        """The run's task has ended (or is gone): give up ownership of its directory."""
        self.owners.pop(name, None)
        ownership = self.ownerships.pop(name, None)
        if ownership is not None:
            ownership.release()

    def write(self, name: str, token: int, method: str, *args) -> bool:
        """One forwarded write of the run's owner (a RunDir writing method); False for a stale attempt."""
        if method not in FORWARDED:
            raise ValueError(f"not a forwarded write: {method}")
        run = self._run(name, token)
        if run is None:
            return False
        if method == "write_status":
            status = {**args[0], "sink_host": HOST, "sink_pid": os.getpid(), "sink_node": self.node}
            run.write_status_dict(status)
        else:
            getattr(run, method)(*args)
        return True

    def should_stop(self, name, token) -> bool:
        """Asked by each task every POLL_S seconds."""
        run = self._run(name, token)
        return run is None or self.stopping or (run.path / STOP_REQUEST).exists()

    def request_stop(self) -> None:
        self.stopping = True

    def drain_events(self) -> list[str]:
        events, self.events = self.events, []
        return events


# the RunDir writes a worker forwards to the driver's copy, in order
FORWARDED = ("write_config", "write_status", "append_metrics", "rewrite_metrics", "write_checkpoint_bytes", "log")


class RayBackend:
    """Runs each grid point as a Ray task (``run_sweep(plan, RayBackend(...))``)."""

    def __init__(
        self,
        address: str | None = None,
        cpus_per_run: float = 1.0,
        max_retries: int = 3,
        parallel: int | None = None,
        stop_timeout: float = 120.0,
    ):
        import_ray()  # fail early (before anything is written) when the extra is missing
        check_address(address)
        if not cpus_per_run > 0:
            raise ConfigError("--cpus-per-run", f"must be a number > 0, got {cpus_per_run}")
        if max_retries < 0:
            raise ConfigError("--max-retries", f"must be an integer >= 0, got {max_retries}")
        self.address, self.cpus_per_run, self.max_retries = address, float(cpus_per_run), int(max_retries)
        self.parallel = parallel  # at most this many tasks submitted at once (None: as the cluster's CPUs allow)
        self.stop_timeout = stop_timeout
        self.stopping = False

    def describe(self) -> str:
        where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
        cap = f", at most {self.parallel} at a time" if self.parallel else ""
        return f"on {where}, {self.cpus_per_run:g} CPU per run{cap}"

    def run(self, jobs, report) -> dict[str, Outcome]:
        if not jobs:
            return {}
        with stop_signals(self.stop):
            return self._run_all(jobs, report)

    def _run_all(self, jobs, report) -> dict[str, Outcome]:
        ray = import_ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        roots = {str(Path(job.cfg.runs_dir).resolve()) for job in jobs}
        if len(roots) != 1:
            raise ValueError(f"a sweep writes into one runs folder, got {sorted(roots)}")
        started = init_ray(self.address)
        sink = None
        results: dict[str, Outcome] = {}
        try:
            report(f"ray: {ray.cluster_resources().get('CPU', 0):g} CPUs in the cluster")
            here = ray.get_runtime_context().get_node_id()
            sink = (
                ray.remote(RunSink)
                .options(
                    num_cpus=0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=here, soft=False),
                )
                .remote(roots.pop())
            )
            task = ray.remote(train_task)
            queue, refs = list(jobs), {}
            stop_sent, cancelled = None, False
            while queue or refs:
                while queue and not self.stopping and (self.parallel is None or len(refs) < self.parallel):
                    job = queue.pop(0)
                    cfg = job.cfg
                    ref = task.options(
                        num_cpus=self.cpus_per_run,
                        max_retries=self.max_retries,
                        retry_exceptions=False,
                        name=f"ctrpo:{cfg.name}",
                    ).remote(cfg.name, sink, max(1, int(self.cpus_per_run)))
                    refs[ref] = cfg
                    report(f"queued {cfg.name} ({job.how})")
                if self.stopping and stop_sent is None:
                    queue.clear()  # never started: not part of the results (as with the local backend)
                    ray.get(sink.request_stop.remote())
                    stop_sent = time.time()
                    report(f"stopping: {len(refs)} runs checkpoint and stop")
                if stop_sent is not None and not cancelled and time.time() - stop_sent > self.stop_timeout:
                    for ref in refs:  # runs that did not stop in time: ended, resumable from their checkpoint
                        ray.cancel(ref, force=True)
                    cancelled = True
                done, _ = ray.wait(list(refs), num_returns=1, timeout=0.5)
                for line in ray.get(sink.drain_events.remote()):
                    report(line)
                for ref in done:
                    cfg = refs.pop(ref)
                    outcome = self._outcome(ray, ref, cfg)
                    ray.get(sink.release.remote(cfg.name))
                    if (
                        outcome.state != NOT_STARTED
                    ):  # (never started: not part of the results, as with the local backend)
                        results[cfg.name] = outcome
                        report(f"{outcome} {cfg.name}")
        finally:
            if sink is not None:
                try:
                    for line in ray.get(sink.drain_events.remote(), timeout=10):
                        report(line)
                except Exception:
                    pass
                ray.kill(sink)  # its process ends: every lock it still held is released
            if started:
                ray.shutdown()
        return results

    def _outcome(self, ray, ref, cfg: TrainConfig) -> Outcome:
        """The run's final state; a run the task could not finish gets a final status here."""
        from ray.exceptions import RayError, RayTaskError

        try:
            return ray.get(ref)
        except RayTaskError as exc:  # the run raised (not retried): the trainer has said 'failed' if it could
            message = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
            return Outcome(self._settle(cfg, "failed", message))
        except RayError as exc:  # worker or node lost after every retry, or cancelled
            retries = f" after {self.max_retries} retries" if self.max_retries else ""
            return Outcome(
                self._settle(
                    cfg,
                    "stopped",
                    f"{type(exc).__name__}{retries}; `ctrpo sweep` again resumes from the last checkpoint",
                )
            )

    @staticmethod
    def _settle(cfg: TrainConfig, state: str, message: str) -> str:
        run = RunDir(Path(cfg.runs_dir) / cfg.name)
        if not run.is_run():
            return state
        status = run.read_status()
        if status.get("state") in ("queued", "running", "unknown"):
            keep = {k: status[k] for k in ("epoch", "epochs", "total_steps", "elapsed") if k in status}
            run.write_status(state, message, backend="ray", **keep)
            return state
        return status.get("state", state)

    def stop(self, reason: str) -> None:
        """Start no further task; the runs in flight checkpoint and stop (SIGTERM/SIGINT, a sweep's stop)."""
        self.stopping = True


# ---------------------------------------------------------------------------------------------- worker side
def wait_for(ref, timeout: float | None = None):
    """``ray.get`` for a task: waits through the ref's future, so Ray does not count the task as blocked
    (a task blocked in ``ray.get`` lends its CPUs to the next queued task: too many runs per core)."""
    return ref.future().result(timeout)


class RemoteRunDir(RunDir):
    """A scratch run directory on the worker that forwards every write to the driver's sink.

    Writes travel in order without waiting (Ray runs one caller's actor calls in submission order), so
    the driver's copy is always a prefix of the worker's: a metrics row before its checkpoint, and so on.
    """

    status_extra = {"backend": "ray", "host": HOST}  # HOST: the worker's, where this module is imported

    def __init__(self, path, sink, token: int, node: str | None = None):
        super().__init__(path)
        self.sink, self.token = sink, token
        self.status_extra = {**RemoteRunDir.status_extra, "node": node}  # the Ray node that trains it
        self.pending: collections.deque = collections.deque()

    def _send(self, method: str, *args) -> None:
        while self.pending and self.pending[0].done():
            self.pending.popleft().result()  # raises if a forwarded write failed
        self.pending.append(self.sink.write.remote(self.name, self.token, method, *args).future())
        while len(self.pending) > MAX_PENDING:
            self.pending.popleft().result()

    def flush(self, timeout: float | None = None) -> None:
        """Wait until the driver has every write so far."""
        while self.pending:
            self.pending.popleft().result(timeout)

    def write_config(self, config: dict) -> None:
        super().write_config(config)
        self._send("write_config", config)

    def write_status_dict(self, status: dict) -> None:
        super().write_status_dict(status)
        self._send("write_status", status)

    def append_metrics(self, row: dict) -> str:
        line = super().append_metrics(row)
        self._send("append_metrics", row)
        return line

    def rewrite_metrics(self, lines: list[str]) -> None:
        super().rewrite_metrics(lines)
        self._send("rewrite_metrics", lines)

    def write_checkpoint_bytes(self, data: bytes) -> None:
        super().write_checkpoint_bytes(data)
        self._send("write_checkpoint_bytes", data)

    def log(self, line: str) -> None:
        super().log(line)
        self._send("log", line)


def train_task(name: str, sink, env_workers: int = 1) -> Outcome:
    """One run, as a Ray task: claim it, rebuild the scratch copy from the driver's, train, return the state."""
    token, copy = wait_for(sink.claim.remote(name, HOST, os.getpid()))
    if token is None:
        return Outcome(BUSY if "busy" in copy else NOT_STARTED)
    if copy["status"].get("state") == "finished":
        return Outcome("finished")  # an attempt that died after the run's last word
    scratch = Path(tempfile.mkdtemp(prefix="ctrpo-ray-"))
    import ray

    run = RemoteRunDir(scratch / name, sink, token, ray.get_runtime_context().get_node_id())
    local = RunDir(run.path)  # writes that stay on the worker: the driver's copy is the truth
    run.path.mkdir()
    local.write_config(copy["config"])
    (run.path / METRICS).write_text(copy["metrics"])
    if "checkpoint" in copy:
        local.write_checkpoint_bytes(copy["checkpoint"])
    stop, done = threading.Event(), threading.Event()

    def watch():  # the sink says when to stop (sweep interrupted, Stop in the app, attempt superseded)
        while not done.wait(POLL_S):
            try:
                if wait_for(sink.should_stop.remote(name, token), timeout=60):
                    stop.set()
            except Exception:  # the driver is gone: nowhere left to write, so stop
                stop.set()

    watcher = threading.Thread(target=watch, name="ctrpo-stop-watch", daemon=True)
    watcher.start()
    try:
        if "checkpoint" in copy:
            run.log(
                f"resuming from the driver's checkpoint at epoch {copy['status'].get('epoch', '?')} on {HOST} "
                f"(pid {os.getpid()})"
            )
        try:
            state = lifecycle.train(run, progress=False, stop_event=stop, env_workers=env_workers)
        except ConfigError as exc:  # refused before training (a damaged checkpoint): as the local backend says
            return Outcome("refused", str(exc))
        run.flush(timeout=600)
        return Outcome(state)
    finally:
        try:
            run.flush(timeout=60)  # what is left after an error (the 'failed' status) goes home too
        except Exception:
            pass
        done.set()
        watcher.join(timeout=5)
        shutil.rmtree(scratch, ignore_errors=True)
