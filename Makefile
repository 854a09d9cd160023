# Two commands: `make app` and `make test` (see README.md). Set-up is keyed on stamp files, so a
# second call reinstalls nothing unless a dependency file changed.
VENV := .venv
PY := $(VENV)/bin/python
APP_STAMP := $(VENV)/.stamp-app
TEST_STAMP := $(VENV)/.stamp-test
DEPS := requirements/base.txt requirements/nodeps.txt pyproject.toml scripts/setup.sh
PORT ?= 8501

.PHONY: app test bench lint setup clean-venv

$(APP_STAMP): $(DEPS)
	scripts/setup.sh app
	touch $@

$(TEST_STAMP): $(APP_STAMP) requirements/test.txt requirements/ray.txt requirements/tensorboard.txt
	scripts/setup.sh test
	touch $@

setup: $(APP_STAMP)

app: $(APP_STAMP)
	$(PY) -m streamlit run app/main.py --server.address 127.0.0.1 --server.port $(PORT)

test: $(TEST_STAMP)
	$(PY) -m pytest -q tests

bench: $(TEST_STAMP)
	$(PY) benchmarks/env_throughput.py
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/app_perf.py
	$(PY) benchmarks/cnpg_toy.py
	$(PY) benchmarks/navigation_speed.py
	$(PY) benchmarks/sweep_fill.py
	$(PY) benchmarks/learner_split.py
	$(PY) benchmarks/sweep_cost.py

clean-venv:
	rm -rf $(VENV)
