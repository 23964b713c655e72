#!/usr/bin/env bash
# The one entry point for people and CI: `./dev.sh demo` and `./dev.sh test`.
# Each command installs what it needs into the project virtualenv (.venv) first.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

# Compile bytecode at install time (pip's default, not uv's): with PYTHONDONTWRITEBYTECODE
# set, as on CI, every tap and target start would otherwise recompile singer-sdk from
# source (measured: `tap-ecommerce-postgres --about` 1.7 s without .pyc files, 0.6 s with).
# Exported so that the plugin venvs Meltano builds with uv get the same.
export UV_COMPILE_BYTECODE=1

PLUGINS=(elt-project sandbox tap-ecommerce-postgres tap-stripe-custom tap-legacy-crm tap-csv-marketing target-minio-parquet elt-monitor orchestration)

# dbt-spark's local session runs Spark in a JVM: Java 17+ from the system, or a JRE from apt.
install_java() {
  if command -v java >/dev/null 2>&1; then return; fi
  echo "java not found: installing a JRE with apt for dbt-spark (local Spark session)" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless \
    || $sudo apt-get install -y -qq --no-install-recommends default-jre-headless
}

# The HTML report's browser test drives Debian's chromium with playwright (playwright's own
# browser download is not used: the system browser is given by path).
install_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  echo "chromium not found: installing it with apt for the report's browser test" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  # another worktree's install may hold apt's lock: wait for it instead of failing
  $sudo apt-get update -qq -o DPkg::Lock::Timeout=300
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=300 chromium >/dev/null
}

# The interpreter of .venv, and so of every plugin virtualenv Meltano builds from it:
# $PYTHON when set, else the distribution's /usr/bin/python3 (3.11-3.13), else python3 on
# PATH. Distributions build CPython with PGO, LTO and a static libpython; a default pyenv
# build (no PGO, --enable-shared) ran the same pure-Python work 1.6x slower on this machine
# (2.38 s vs 1.46 s), and Meltano, dbt's parser and the plugins are mostly pure Python.
choose_python() {
  local candidate
  for candidate in ${PYTHON:-} /usr/bin/python3 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c \
      'import sys, venv, ensurepip; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))' \
      2>/dev/null; then
      command -v "$candidate"
      return
    fi
  done
  echo "no Python 3.11-3.13 with venv found: install one, or set PYTHON=/path/to/python3" >&2
  exit 1
}

# Which interpreter a Python is: its installation and exact version.
interpreter_of() {
  "$1" -c 'import sys; print(sys.base_prefix, sys.version)' 2>/dev/null || true
}

# The project virtualenv with uv in it (pip only bootstraps uv, once). A .venv made by
# another interpreter than the chosen one is made again, and so are the plugins' venvs
# (Meltano would keep a venv whose pip_url is unchanged, on the old Python; the tests'
# install, tests/e2e/install.py, checks each venv's interpreter too).
make_venv() {
  local python
  python=$(choose_python)
  if [ -x "$PY" ] && [ "$(interpreter_of "$PY")" != "$(interpreter_of "$python")" ]; then
    echo "making .venv and the plugins' venvs again with $python (made with another Python)" >&2
    rm -rf "$VENV" "$ROOT/.meltano/extractors" "$ROOT/.meltano/loaders" "$ROOT/.meltano/utilities"
  fi
  if [ ! -x "$PY" ]; then
    "$python" -m venv "$VENV"
  fi
  if [ ! -x "$VENV/bin/uv" ]; then
    "$PY" -m pip install --quiet uv
  fi
}

# What the demo runs in this virtualenv: the sandbox, Meltano and DuckDB (for the tables
# it prints). The taps, the target, dbt and elt-monitor run in the virtualenvs Meltano
# builds for them, so the demo does not install them (nor Dagster, Spark, Snowflake and
# the browser, which only the tests use) here; only the shop tap, whose replication
# slot names the sandbox uses for its publications.
install_demo() {
  make_venv
  "$VENV/bin/uv" pip install --quiet --compile-bytecode --python "$PY" \
    -e sandbox -e tap-ecommerce-postgres -r requirements-demo.txt
  "$PY" transform/scripts/install_duckdb_httpfs.py >/dev/null
}

install() {
  install_java
  install_chromium
  make_venv
  local args=()
  for plugin in "${PLUGINS[@]}"; do
    if [ -f "$plugin/pyproject.toml" ]; then args+=(-e "$plugin"); fi
  done
  "$VENV/bin/uv" pip install --quiet --compile-bytecode --python "$PY" "${args[@]}" -r requirements-dev.txt
  # Editable sources are not compiled by the installer.
  "$PY" -m compileall -q "${PLUGINS[@]}" >/dev/null
  # DuckDB cannot download extensions here: install httpfs from its PyPI wheel.
  "$PY" transform/scripts/install_duckdb_httpfs.py >/dev/null
  # dbt's manifest for Dagster's dbt assets (parsed again only when transform/ changed)
  "$PY" -m elt_orchestration.dbt_manifest "$ROOT"
}

case "${1:-help}" in
  install)
    install ;;
  demo)
    install_demo
    shift
    exec "$PY" -m scripts.demo "$@" ;;
  test)
    install
    # uv keeps every wheel it ever built; the suite's plugin installs (editable and git
    # sources) add to it on every run, and a full disk fails the run half-way (measured:
    # 69 GB of unused entries after a few days of runs). Drop what nothing uses.
    "$VENV/bin/uv" cache prune --quiet || true
    # The e2e tests' Meltano plugin venvs (.meltano/, only those whose inputs changed),
    # installed here like .venv itself, not inside the timed test run
    "$PY" -m tests.e2e.install
    # ... and fakesnow's own venv (duckdb 2.x), for the Snowflake engine tests' servers
    "$PY" -m tests.transform_engines.fakesnow_venv
    shift
    "$VENV/bin/ruff" format --check .
    "$VENV/bin/ruff" check .
    # TEST_WORKERS parallel pytest-xdist workers (default 3 on the 2-core test machine:
    # two take the slow, CPU-bound groups from the head of the queue, the third the plugin
    # tests, which mostly wait on servers and clocks, from its tail; TEST_WORKERS=0: one
    # process); each module runs whole on one worker, modules sharing a costly fixture
    # together (tests/conftest.py).
    exec "$VENV/bin/pytest" -n "${TEST_WORKERS:-3}" "$@" ;;
  scenarios)
    # 20 normal nights and 14 upstream problems through the real job (~35 min)
    install
    shift
    exec "$VENV/bin/pytest" -m scenarios tests/e2e/test_scenarios.py -s "$@" ;;
  bench)
    install
    shift
    exec "$PY" bench/run.py "$@" ;;
  orchestrate)
    # Dagster webserver + daemon on 127.0.0.1:3000 against the sandbox (orchestration/README.md).
    install
    shift
    exec "$PY" -m elt_orchestration.serve "$@" ;;
  *)
    echo "usage: ./dev.sh demo|test|scenarios|bench|orchestrate|install" >&2
    exit 2 ;;
esac
