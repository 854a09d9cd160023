"""The documentation in docs/ against the code: the generated CLI reference, the tables of settings,
defaults and metrics columns, links, and no reference to documents outside the repository."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"


def _generator():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "scripts" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


def _commands(parser=None, prefix=()) -> list[tuple[str, ...]]:
    """Every subcommand of the ctrpo parser as a path of names, nested ones included."""
    if parser is None:
        from ctrpo_core.cli import build_parser

        parser = build_parser()
    out = []
    for name, _, sub in GEN._subparsers(parser):
        out.append((*prefix, name))
        out += _commands(sub, (*prefix, name))
    return out


COMMANDS = _commands()


# ---------------------------------------------------------------------------------------------- CLI.md
def test_cli_reference_is_generated_from_the_parser():
    written = (DOCS / "CLI.md").read_text(encoding="utf-8") if (DOCS / "CLI.md").exists() else ""
    assert written == GEN.render(), (
        "docs/CLI.md is not what scripts/cli_reference.py writes for the current "
        "parser: run .venv/bin/python scripts/cli_reference.py"
    )


def test_cli_reference_check_flag(tmp_path, capsys):
    out = tmp_path / "CLI.md"
    assert GEN.main(["--out", str(out)]) == 0
    assert GEN.main(["--check", "--out", str(out)]) == 0
    out.write_text(out.read_text() + "hand edit\n")
    assert GEN.main(["--check", "--out", str(out)]) == 1
    assert GEN.main(["--check", "--out", str(tmp_path / "missing.md")]) == 1


def test_the_parser_has_subcommands():
    assert {"train", "sweep", "tasks"} <= {c[-1] for c in COMMANDS}


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_subcommand_is_in_the_cli_reference(command):
    heading = f"`ctrpo {' '.join(command)}`"
    found = re.search(rf"^#+ {re.escape(heading)}$", (DOCS / "CLI.md").read_text(encoding="utf-8"), re.M) is not None
    assert found, f"docs/CLI.md has no section {heading}: regenerate it"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_subcommand_is_in_the_readme(command):
    pattern = r"\bctrpo\s+" + r"\s+".join(map(re.escape, command)) + r"(?![\w-])"
    found = re.search(pattern, README.read_text(encoding="utf-8")) is not None
    assert found, f"README.md never mentions `ctrpo {' '.join(command)}`"


# ---------------------------------------------------------------------------------------------- tables
def _section(path: Path, heading: str) -> str:
    """The text under ``heading`` (a full heading line) up to the next heading of the same or a higher level."""
    lines = path.read_text(encoding="utf-8").splitlines()
    level = len(heading) - len(heading.lstrip("#"))
    assert heading in lines, f"{path.name} has no heading {heading!r}"
    start = lines.index(heading) + 1
    out = []
    for line in lines[start:]:
        m = re.match(r"^(#+) ", line)
        if m and len(m.group(1)) <= level:
            break
        out.append(line)
    return "\n".join(out)


def _rows(text: str) -> list[list[str]]:
    """The body rows of the markdown tables in ``text``, as stripped cells."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|") or re.match(r"^\|[\s|:-]+\|$", line):
            continue
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip("|"))])
    return rows


def _keyed(rows) -> dict[str, list[str]]:
    """Rows whose first cell is one `name`, by that name."""
    out = {}
    for row in rows:
        m = re.fullmatch(r"`([^`]+)`", row[0])
        if m:
            out[m.group(1)] = row
    return out


def _pairs(cell: str) -> dict:
    return {k: ast.literal_eval(v) for k, v in re.findall(r"`(\w+)=([^`]+)`", cell)}


def test_settings_and_algorithms_are_documented_from_their_declarations():
    """The tables of every setting and every algorithm are generated (docs/CLI.md, kept current by the test
    above); docs/ALGORITHM.md explains them and points there instead of keeping a copy that could drift."""
    from ctrpo_core.config.algorithms import ALGORITHMS, ALL_SETTINGS

    cli = (DOCS / "CLI.md").read_text()
    algorithms = _keyed(_rows(_section(DOCS / "CLI.md", "## Algorithms")))
    assert list(algorithms) == list(ALGORITHMS)
    settings = _keyed(
        [
            [row[0].split(" ")[0]] + row[1:]
            for row in _rows(_section(DOCS / "CLI.md", "## Settings for `--set` and `--config`"))
        ]
    )
    assert list(settings) == [k for k, s in ALL_SETTINGS.items() if s.settable]
    explained = _section(DOCS / "ALGORITHM.md", "## Settings") + _section(
        DOCS / "ALGORITHM.md", "## The other algorithms"
    )
    assert "CLI.md#settings-for---set-and---config" in explained and "CLI.md#algorithms" in explained
    assert "ctrpo_core/config/settings.py" in explained and "CTRPO_ALGORITHMS" in explained
    assert "| `beta` (β) |" in cli


def test_metrics_columns_are_documented():
    from ctrpo_core.runs.store import METRIC_COLUMNS, TRUTH_COLUMNS

    rows = _keyed(_rows(_section(DOCS / "ALGORITHM.md", "## Metrics")))
    assert list(rows) == METRIC_COLUMNS + TRUTH_COLUMNS, (
        "docs/ALGORITHM.md's metrics table must list METRIC_COLUMNS, then TRUTH_COLUMNS, in order"
    )
    listed = " ".join(_section(DOCS / "RUN_FORMAT.md", "## metrics.csv").split())
    for columns in (METRIC_COLUMNS, TRUTH_COLUMNS):
        assert ", ".join(f"`{c}`" for c in columns) in listed, "docs/RUN_FORMAT.md must list the columns in order"


def test_run_states_are_documented():
    from ctrpo_core.runs import STATES

    rows = _keyed(_rows(_section(DOCS / "RUN_FORMAT.md", "## status.json")))
    assert set(STATES) <= set(rows), f"docs/RUN_FORMAT.md lacks the state(s) {set(STATES) - set(rows)}"


# ---------------------------------------------------------------------------------------------- links
def _slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = re.match(r"^#+ (.+)$", line)
        if m and not in_code:
            slug = _slug(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


MARKDOWN = [README, *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    broken = []
    for target in re.findall(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue  # http:, https:, mailto:
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists() or (ROOT not in dest.parents and dest != ROOT):
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)}: links that do not resolve: {broken}"


# ---------------------------------------------------------------------------------------------- outside documents
def _project_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        extra = subprocess.run(
            ["git", "ls-files", "-z", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    names = {n for n in (listed + extra).decode().split("\0") if n}
    files = []
    for name in sorted(names):
        path = ROOT / name
        if path.is_file() and not path.is_symlink() and path != Path(__file__).resolve():
            try:
                text = path.read_bytes()
            except OSError:
                continue
            if b"\0" not in text[:8192]:  # text files only
                files.append(path)
    return files


# spelled in pieces so that this file does not contain what it looks for
OUTSIDE = ["../" + "shared", "shared" + "/docs", "/work" + "/shared"]
NAMED_DOCS = ("ALGORITHM", "CONTRACT", "ENVIRONMENT")
MENTION = re.compile(r"([\w./-]*?)\b((?:%s)\.md)\b" % "|".join(NAMED_DOCS))
DOCS_MENTION = re.compile(r"(?<![\w/.-])((?:\.\./)*docs/[\w.-]+\.md)\b")


def _resolves(path: Path, mention: str) -> bool:
    """Whether ``mention`` names an existing file of the repository, relative to ``path``'s folder or the root."""
    for base in (path.parent, ROOT):
        dest = (base / mention).resolve()
        if dest.is_file() and ROOT in dest.parents:
            return True
    return False


def test_no_file_refers_to_documents_outside_the_repository():
    found = []
    for path in _project_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for n, line in enumerate(text.splitlines(), 1):
            for needle in OUTSIDE:
                if needle in line:
                    found.append(f"{path.relative_to(ROOT)}:{n}: {needle}")
            for m in MENTION.finditer(line):
                mention = m.group(1) + m.group(2)
                if not _resolves(path, mention):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {mention} (no such file in the repository)")
    assert not found, "references to documents outside the repository:\n" + "\n".join(found)


def test_docs_files_mentioned_anywhere_exist():
    missing = []
    for path in _project_files():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for m in DOCS_MENTION.finditer(line):
                if not _resolves(path, m.group(1)):
                    missing.append(f"{path.relative_to(ROOT)}:{n}: {m.group(1)}")
    assert not missing, "mentions of docs/ pages that do not exist:\n" + "\n".join(missing)
