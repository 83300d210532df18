# Lawroom tasks. `make run` and `make test` work on a fresh machine.
.PHONY: run install install-test test lint fix bench demo schema

run: install
	.venv/bin/lawroom serve --demo

install:
	scripts/install.sh

install-test:
	scripts/install.sh --test

test: install-test
	scripts/test.sh

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .

fix:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

bench:
	.venv/bin/python -m bench

demo:
	.venv/bin/lawroom demo

schema:
	.venv/bin/lawroom schema > signaling/schema.json
