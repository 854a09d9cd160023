"""No behaviour change across the re-layout (issue 21): the fixed runs of tests/golden/snapshot.py (every
algorithm on GridHazard-v0 and HazardEdge-v0, a short SafetyHopperVelocity-v1 run) and the CLI's
``ls``/``show``/``eval``/``demo --json`` answers about them, against the snapshot recorded before it.

On the machine that recorded it (same CPU, torch and numpy: ``fingerprint.json``) every file must be equal
byte for byte, timing columns and wall-clock fields aside. Elsewhere floating point may round differently
in the last bits, so numbers are compared to 1e-6 relative and everything else exactly.
"""

import csv
import io
import json
import math

import pytest
from golden import snapshot

GOLDEN = snapshot.REPO / "tests" / "golden" / "behaviour"


def _numbers_close(a: str, b: str) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return a == b
    return (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9)


def _json_close(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and _numbers_close(str(a), str(b))
    return a == b


def _close(name: str, got: str, recorded: str) -> bool:
    if name.endswith(".json"):
        return _json_close(json.loads(got), json.loads(recorded))
    rows = list(csv.reader(io.StringIO(got))), list(csv.reader(io.StringIO(recorded)))
    return len(rows[0]) == len(rows[1]) and all(
        len(r) == len(s) and all(_numbers_close(x, y) for x, y in zip(r, s)) for r, s in zip(*rows)
    )


@pytest.fixture(scope="module")
def today(tmp_path_factory):
    snapshot.IN_PROCESS = True  # cli.main in this process: the same answers (checked when recorded), no start-ups
    return snapshot.snapshot(tmp_path_factory.mktemp("golden") / "runs")


def test_the_snapshot_covers_every_algorithm_and_command(today):
    recorded = sorted(p.name for p in GOLDEN.iterdir() if p.name != snapshot.FINGERPRINT)
    assert sorted(today) == recorded
    assert {name.split("_", 1)[1].split(".")[0] for name in today if name.startswith("gridhazard_")} == set(
        snapshot.ALGOS
    )


def test_the_cli_gives_the_recorded_numbers_and_answers(today):
    same_machine = snapshot.fingerprint() == json.loads((GOLDEN / snapshot.FINGERPRINT).read_text())
    differ = []
    for name, text in today.items():
        recorded = (GOLDEN / name).read_text()
        if text != recorded and (same_machine or not _close(name, text, recorded)):
            differ.append(name)
    assert not differ, f"{'byte' if same_machine else 'numeric'} differences in {differ}"
