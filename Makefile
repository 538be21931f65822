# photoserve: `make run` starts the whole service locally, `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_INDEX ?=
# no wheel cache: torch's CUDA wheels would keep another ~3 GB in ~/.cache beside the venv
PIP_INSTALL = pip install -q --no-cache-dir

.PHONY: install run test test-fast lint fuzz bench-upscale bench-peers clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch + torchvision first, pinned to the builds these machines carry on local disk;
	# TORCH_INDEX=<PyTorch's CPU wheel index> takes the CPU-only builds (README: Install size)
	$(BIN)/$(PIP_INSTALL) torch==2.14.1 torchvision==0.29.1 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/$(PIP_INSTALL) -e '.[models,s3,dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/photoserve run

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not e2e and not slow"

# Schemathesis over every route of /openapi.json with a valid key, a wrong key and no key:
# the test suite runs 3 examples per operation, this FUZZ_EXAMPLES (reports under
# build/test-artifacts/fuzz/)
FUZZ_EXAMPLES ?= 100
fuzz: install
	PHOTOSERVE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -s tests/serve_app/test_fuzz.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(PEERS) .photoserve .pytest_cache

bench-upscale: install
	$(BIN)/python -m loadtest.bench_upscale

# Each model operation against the tool a user would otherwise run (rembg, IOPaint,
# segment-anything, spandrel, ncnn), those in a venv of their own: loadtest/peers-requirements.txt
PEERS := .venv-peers
$(PEERS)/.installed: loadtest/peers-requirements.txt
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/$(PIP_INSTALL) torch==2.14.1 torchvision==0.29.1
	$(PEERS)/bin/$(PIP_INSTALL) -r loadtest/peers-requirements.txt
	$(PEERS)/bin/$(PIP_INSTALL) --no-deps iopaint==1.6.0
	touch $@

bench-peers: install $(PEERS)/.installed
	$(BIN)/python -m loadtest.bench_peers

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
