# Two commands matter: `make dev` runs the whole system, `make test` runs everything CI runs.
# Every target installs what it needs and is safe to run again.

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
VENV := .venv
# uv on PATH too: the k8s tests replay the images' `uv` build steps with it (skipped without).
RUN := PATH="$(CURDIR)/$(VENV)/bin:$(dir $(UV)):$$PATH"
PACKAGES := shared $(wildcard services/*)

.PHONY: dev test lint typecheck pytest infra-up postgres-up infra-down bootstrap lock migrate topics \
        bench docs clients k8s clean

# The workspace's one lock file is requirements.lock: uv's resolution of every package and
# group, exported with hashes (and without registry addresses, which uv.lock would carry).
bootstrap: $(VENV)/.synced

$(VENV)/.synced: requirements.lock $(addsuffix /pyproject.toml,$(PACKAGES))
	@command -v uv >/dev/null 2>&1 || [ -x "$(UV)" ] || python3 -m pip install --user --quiet uv
	@[ -x $(VENV)/bin/python ] || $(UV) venv --quiet --python 3.11 $(VENV)
	$(UV) pip sync --quiet --python $(VENV)/bin/python requirements.lock
	$(UV) pip install --quiet --python $(VENV)/bin/python --no-deps $(addprefix -e ,$(PACKAGES))
	@touch $@

# After changing dependencies in a pyproject.toml: resolve again and export the lock files
# (the workspace's, and each service's runtime subset that its image installs).
lock:
	$(UV) lock
	$(UV) export --frozen --quiet --format requirements-txt --all-packages --all-groups \
	  --no-emit-workspace --no-header -o requirements.lock
	for svc in $(notdir $(wildcard services/*)); do \
	  $(UV) export --frozen --quiet --format requirements-txt --package crm-$$svc --no-dev \
	    --no-emit-workspace --no-header -o services/$$svc/requirements.lock; done

infra-up:
	bash scripts/infra/up.sh

postgres-up:
	bash scripts/infra/postgres.sh up

infra-down:
	bash scripts/infra/down.sh

migrate: bootstrap infra-up
	$(RUN) crm migrate

topics: bootstrap infra-up
	$(RUN) crm topics ensure

dev: bootstrap infra-up migrate topics
	$(RUN) crm dev

lint: bootstrap
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: bootstrap
	$(RUN) mypy shared/src services/*/src tests bench scripts examples

# The tests start a broker of their own on 9192 (tests/conftest.py), never touching `make dev`'s.
pytest: bootstrap postgres-up
	$(RUN) pytest --ignore=tests/k8s

test: lint typecheck pytest clients k8s

k8s: bootstrap
	$(RUN) CRM_K8S_PYTEST="python -m pytest" bash scripts/k8s/validate.sh

docs: bootstrap
	$(RUN) crm docs export
	cd clients/typescript && { [ -d node_modules ] || npm ci --silent; } && npm run --silent generate

clients:
	bash clients/typescript/scripts/check.sh

bench: bootstrap infra-up migrate topics
	$(RUN) python -m bench

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
