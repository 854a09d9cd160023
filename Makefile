# Three commands: `make app`, `make lab` and `make test` (see README.md). Set-up is keyed on stamp files, so a
# second call reinstalls nothing unless a dependency file changed.
VENV := .venv
PY := $(VENV)/bin/python
APP_STAMP := $(VENV)/.stamp-app
TEST_STAMP := $(VENV)/.stamp-test
LAB_STAMP := $(VENV)/.stamp-lab
DEPS := requirements/base.txt requirements/nodeps.txt pyproject.toml scripts/setup.sh
PORT ?= 8501
LAB_PORT ?= 8888
LAB_ARGS ?=
# Jupyter refuses to run as root unless told (containers often run as root)
LAB_ROOT = $(if $(filter 0,$(shell id -u)),--ServerApp.allow_root=True)

.PHONY: app lab test test-fast lint bench setup clean-venv

$(APP_STAMP): $(DEPS)
	scripts/setup.sh app
	touch $@

# JupyterLab and the project's kernel "ctrpo-explorer" (this .venv's Python); the tests use them too
$(LAB_STAMP): $(APP_STAMP) requirements/lab.txt
	scripts/setup.sh lab
	touch $@

$(TEST_STAMP): $(APP_STAMP) $(LAB_STAMP) requirements/test.txt requirements/ray.txt requirements/tensorboard.txt
	scripts/setup.sh test
	touch $@

setup: $(APP_STAMP)

app: $(APP_STAMP)
	$(PY) -m streamlit run app/main.py --server.address 127.0.0.1 --server.port $(PORT)

# JupyterLab on 127.0.0.1:$(LAB_PORT) over notebooks/, new notebooks on the project's kernel; LAB_ARGS adds
# options (e.g. LAB_ARGS=--no-browser)
lab: $(LAB_STAMP)
	$(PY) -m jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) --ServerApp.root_dir="$(CURDIR)/notebooks" \
		--MappingKernelManager.default_kernel_name=ctrpo-explorer $(LAB_ROOT) $(LAB_ARGS)

# the linter and the formatter (configured in pyproject.toml), then every tier: tests/unit (formulas against closed
# forms, the layers), tests/integration (real runs, the CLI, reports, the app's pages in process), tests/e2e (a real
# browser, JupyterLab, Ray, the behaviour snapshot)
test: $(TEST_STAMP) lint
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=30 tests

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# the unit tier alone: under a minute
test-fast: $(TEST_STAMP)
	$(PY) -m pytest -q tests/unit

BENCHMARKS := env_throughput train_throughput epoch_time app_perf cnpg_toy navigation_speed sweep_fill learner_split \
	sweep_cost demo_behaviour truth_cost notebook_defaults command_times first_order_floor

bench: $(TEST_STAMP)
	set -e; for b in $(BENCHMARKS); do $(PY) benchmarks/$$b.py; done

# slow (minutes per size): the app's pages, Live's lag and `ctrpo ls` against runs folders of N runs
# (benchmarks/app_scale.py; e.g. SCALE_ARGS="--sizes 20,200,2000,10000 --repo ../old-worktree")
SCALE_ARGS ?=
.PHONY: bench-scale
bench-scale: $(TEST_STAMP)
	$(PY) benchmarks/app_scale.py $(SCALE_ARGS)

clean-venv:
	rm -rf $(VENV)
