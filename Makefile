# photoserve: `make run` starts the whole service locally, `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast lint bench-upscale clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch + torchvision first, pinned to the builds these machines carry on local disk
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[models,s3,dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/photoserve run

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not e2e and not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .photoserve .pytest_cache

# Load test against the service `make run` started in another terminal: locust's vendor
# flows (loadtest/locustfile.py) for LOADTEST_TIME, then the report (waits for every job,
# audits every account; exit 1 when an invariant fails). Output in loadtest/reports/<time>/.
LOADTEST_USERS ?= 20
LOADTEST_TIME ?= 2m
LOADTEST_SPAWN ?= 5
LOADTEST_HOST ?= http://127.0.0.1:8000

.PHONY: loadtest
loadtest: install
	@$(BIN)/python -c "import httpx; httpx.get('$(LOADTEST_HOST)/healthz', timeout=5).raise_for_status()" \
		2>/dev/null || { echo "no photoserve answers at $(LOADTEST_HOST)/healthz:" \
		"start it with 'make run' in another terminal first"; exit 1; }
	@dir=loadtest/reports/$$(date +%Y%m%d-%H%M%S) && mkdir -p $$dir && \
	PHOTOSERVE_LOADTEST_JOBS=$$dir/jobs.jsonl $(BIN)/locust -f loadtest/locustfile.py \
		--host $(LOADTEST_HOST) --headless --only-summary -u $(LOADTEST_USERS) \
		-r $(LOADTEST_SPAWN) -t $(LOADTEST_TIME) --csv $$dir/locust; \
	echo "report: $$dir/report.md (waiting for the last jobs, auditing the accounts)"; \
	$(BIN)/python -m loadtest.report --host $(LOADTEST_HOST) --csv-prefix $$dir/locust \
		--jobs $$dir/jobs.jsonl --out $$dir/report.md
