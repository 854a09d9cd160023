"""The ``ctrpo`` command line (see docs: CONTRACT.md)."""

from __future__ import annotations

import argparse
import sys

from . import __version__


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ctrpo", description="C-TRPO Explorer command line")
    parser.add_argument("--version", action="version", version=f"ctrpo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    tasks = sub.add_parser("tasks", help="list the task ids the trainer accepts")
    tasks.add_argument("ids", nargs="*", help="show only these tasks (unknown ids are an error)")
    tasks.set_defaults(func=_cmd_tasks)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .envs import UnknownTaskError

    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except (UsageError, UnknownTaskError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        print(f"ctrpo: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
