"""A sweep's or benchmark's manifest (sweeps/manifest.py): what a plan of the same name replaces."""

import json

from ctrpo_core.sweeps.benchmark import plan_benchmark
from ctrpo_core.sweeps.manifest import replaced_plan, write_manifest


def test_a_plan_that_replaces_an_earlier_one_of_its_name_is_told(tmp_path):
    """Pages show a name's latest plan, so a benchmark of other tasks (or steps) under the same name replaces
    the earlier plan; the driver says so. Training it again the same way, with other launch flags, does not."""
    runs = tmp_path / "runs"
    first = plan_benchmark(["HazardEdge-v0"], ["c-trpo"], [0, 1], runs, steps=4000, name="b")
    first.launch = {"parallel": 1}
    assert replaced_plan(first) is None  # nothing of that name yet
    write_manifest(first)
    again = plan_benchmark(["HazardEdge-v0"], ["c-trpo"], [0, 1], runs, steps=4000, name="b")
    again.launch = {"parallel": 2}
    assert replaced_plan(again) is None
    reordered = plan_benchmark(["HazardEdge-v0"], ["c-trpo"], [1, 0], runs, steps=4000, name="b")
    assert replaced_plan(reordered) is None  # the same runs
    other = plan_benchmark(["GridHazard-v0"], ["c-trpo"], [0, 1], runs, steps=8000, name="b")
    earlier = replaced_plan(other)
    assert earlier.describe() == "1 task × 3 algorithms × seeds 0, 1 at 4,000 steps"
    assert other.describe() == "1 task × 3 algorithms × seeds 0, 1 at 8,000 steps"


def test_an_earlier_plan_missing_fields_is_still_described(tmp_path):
    """A manifest written by hand or by another version may lack a field: the driver's line still reads."""
    runs = tmp_path / "runs"
    (runs / ".sweeps").mkdir(parents=True)
    kept = {"name": "b", "runs": [], "grid": [], "plan": {"kind": "benchmark", "tasks": ["HazardEdge-v0"]}}
    (runs / ".sweeps" / "b.json").write_text(json.dumps(kept))
    plan = plan_benchmark(["HazardEdge-v0"], ["c-trpo"], [0], runs, steps=4000, name="b")
    assert replaced_plan(plan).describe() == "1 task × 0 algorithms × seeds "
