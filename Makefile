# The two commands of the README. Everything else is a helper they call.
PYTHON ?= python3.11
VENV ?= .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test install lint check messages bench

run: install  ## set up and run the CRM with demo data (embedded PostgreSQL + Redis unless URLs are set)
	$(VPY) -m crm_project.launch run

test: install  ## run the whole test suite
	$(VPY) -m crm_project.launch test $(PYTEST_ARGS)

SCALE ?= 10k
bench: install  ## every benchmark in bench/ at SCALE=10k|100k|1m on crm_bench_<scale> (seeded once), one table
	$(VPY) -m crm_project.launch exec -- $(VPY) bench/run.py --scale $(SCALE) $(BENCH_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e ".[dev,embedded]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

lint: install  ## ruff and the import-linter layers contract
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

check: install  ## Django system checks and migrations drift
	$(VPY) -m crm_project.launch exec -- $(VPY) manage.py check
	$(VPY) -m crm_project.launch exec -- $(VPY) manage.py makemigrations --check --dry-run

messages: install  ## refresh and compile the zh-hans and en translation catalogs
	$(VPY) manage.py makemessages -l zh_Hans -l en --ignore=.venv --ignore=var --ignore=static
	$(VPY) manage.py compilemessages --ignore=.venv
