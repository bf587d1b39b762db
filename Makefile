# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-stress services browser fonts lint bench lock clean

# Two hash-locked files (edit the .in files, then `make lock`; never edit the .txt by hand):
#   requirements.txt      runtime: the web process, the worker, the CLI, `make run`; production installs only this
#   requirements-dev.txt  tests and lint, on top of requirements.txt (`make test`, `make lint`)
# --require-hashes: every package, transitive ones included, must match a hash in the file.
PIP_VERSION := 26.3
PIP_TOOLS := pip-tools==7.7.0
DEV_STAMP := $(VENV)/.installed-dev
LOCK_FLAGS := --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==$(PIP_VERSION)

$(STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.txt
	touch $(STAMP)

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.txt -r requirements-dev.txt
	touch $(STAMP) $(DEV_STAMP)

## lock: recompile requirements.txt and requirements-dev.txt from requirements.in and requirements-dev.in,
## with a hash for every file of every package; versions already locked stay unless the .in files ask
## otherwise (LOCK_ARGS="--upgrade-package NAME" moves one). pip-tools runs in a throwaway venv.
lock:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(PYTHON) -m venv "$$tmp" && "$$tmp/bin/pip" install --quiet pip==$(PIP_VERSION) $(PIP_TOOLS) && \
	  echo "locking requirements.txt" && \
	  CUSTOM_COMPILE_COMMAND="make lock" "$$tmp/bin/pip-compile" $(LOCK_FLAGS) $(LOCK_ARGS) \
	    --output-file requirements.txt requirements.in && \
	  echo "locking requirements-dev.txt" && \
	  CUSTOM_COMPILE_COMMAND="make lock" "$$tmp/bin/pip-compile" $(LOCK_FLAGS) $(LOCK_ARGS) \
	    --output-file requirements-dev.txt requirements-dev.in

## make run: the bot on http://127.0.0.1:8000 with the LINE emulator at /emulator (no accounts needed)
run: $(STAMP)
	DEMO_DEFAULTS=1 $(BIN)/flask --app app db upgrade
	DEMO_DEFAULTS=1 $(BIN)/flask --app app seed-demo
	@echo ""
	@echo "  あいコムこうか LINE bot: http://127.0.0.1:8000"
	@echo "  LINE emulator:          http://127.0.0.1:8000/emulator"
	@echo "  Try: send ヘルプ, then 登録 — customer 12345678, phone 0748-62-1234, name アイコム　タロウ"
	@echo "       (every demo customer is listed in the emulator's はじめに pane)."
	@echo "  The 本登録 mail arrives in the emulator's メールボックス pane: open its link, set a password,"
	@echo "  then send 今月の料金 and tap 明細を見る."
	@echo ""
	DEMO_DEFAULTS=1 $(BIN)/flask --app app run --host 127.0.0.1 --port 8000

## services: start PostgreSQL and Redis when installed but stopped; fail naming a missing one
services:
	@if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
	  if command -v pg_ctlcluster >/dev/null 2>&1; then \
	    echo "starting PostgreSQL"; pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true; \
	  fi; \
	fi
	@if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then \
	  if command -v redis-server >/dev/null 2>&1; then \
	    echo "starting Redis"; redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
	      --dir /tmp --logfile /tmp/redis-test.log || true; sleep 1; \
	  fi; \
	fi
	@for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && break; sleep 1; done
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { echo "ERROR: PostgreSQL is not running on 127.0.0.1:5432 and could not be started"; exit 1; }
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "ERROR: Redis is not running on 127.0.0.1:6379 and could not be started"; exit 1; }

## browser: Debian's Chromium for the Playwright tests (playwright's own download cannot work here)
browser:
	@test -x /usr/bin/chromium || { (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
	  || { echo "ERROR: could not install Debian's chromium (needed for the browser tests)"; exit 1; }; }

## fonts: Debian's Noto CJK, the Japanese font the rich menu images are drawn with
fonts:
	@test -f /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc || { (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk) >/dev/null \
	  || { echo "ERROR: could not install Debian's fonts-noto-cjk (needed to draw the rich menu images)"; exit 1; }; }

## test: lint, then the suite in TEST_WORKERS pytest-xdist processes, each test sent to the next free
## one, the longest first (tests/conftest.py SLOW_FIRST). A test spends part of its time waiting on
## PostgreSQL, Redis, a browser or a subprocess, so four processes on this 2-core machine (on a quiet
## day, 2026-12-05: three took 3:04 and 3:05, four 2:46 and 2:50; on a busy one earlier, two 3:32,
## three 3:01, four 3:16). Worker gwN uses Redis DB N after TEST_REDIS_URL's (12, 13, 14, 15 by
## default: redis-server has 16) and a PostgreSQL database of its own. TEST_WORKERS=0: one process.
## Bytecode is cached (__pycache__, ignored by git) even where the environment sets
## PYTHONDONTWRITEBYTECODE: else every worker, and every process a test starts, compiles our
## modules and pytest rewrites every test module again (19 s before the first test, 12 s with it).
TEST_WORKERS ?= 4
PYCACHE = PYTHONDONTWRITEBYTECODE=
test: $(DEV_STAMP) services browser fonts
	$(BIN)/ruff check .
	$(PYCACHE) $(BIN)/pytest -q -n $(TEST_WORKERS) --dist load

## test-stress: the slow fault and load tests (tests/stress/: Redis and PostgreSQL stopped for real,
## 200 registrations at once, 2 worker processes) and the property tests with ten times the examples
test-stress: $(DEV_STAMP) services
	$(PYCACHE) HYPOTHESIS_SCALE=10 $(BIN)/pytest -q -m "stress or not stress" tests/stress tests/bot/test_properties.py tests/line/test_hostile_input.py

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

## bench: the load test (bench/load.py: closed-loop series, then the crowd/flood bursts and the scale-out,
## issue 22), the import and the free-text benchmarks; about a quarter of an hour, cleans up after itself
bench: $(STAMP) services
	$(BIN)/pip install --quiet -r bench/requirements.txt
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance/*.db .pytest_cache
