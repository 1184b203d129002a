# Two commands matter: `make dev` runs the whole system, `make test` runs everything CI runs.
# Every target installs what it needs and is safe to run again.

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
RUN := $(UV) run --frozen

.PHONY: dev test lint typecheck pytest infra-up infra-down bootstrap migrate topics \
        bench docs clients k8s clean

bootstrap: .venv/.synced

.venv/.synced: pyproject.toml uv.lock shared/pyproject.toml $(wildcard services/*/pyproject.toml)
	@command -v uv >/dev/null 2>&1 || [ -x "$(UV)" ] || python3 -m pip install --user --quiet uv
	$(UV) sync --frozen --all-packages
	@touch $@

infra-up:
	bash scripts/infra/up.sh

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

pytest: bootstrap infra-up topics
	$(RUN) pytest --ignore=tests/k8s

test: lint typecheck pytest clients k8s

k8s: bootstrap
	bash scripts/k8s/validate.sh

docs: bootstrap
	$(RUN) crm docs export
	cd clients/typescript && { [ -d node_modules ] || npm ci --silent; } && npm run --silent generate

clients:
	bash clients/typescript/scripts/check.sh

bench: bootstrap infra-up migrate topics
	$(RUN) python -m bench.contacts

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
