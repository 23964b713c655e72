#!/usr/bin/env bash
# The one entry point for people and CI: `./dev.sh demo` and `./dev.sh test`.
# Each command installs what it needs into the project virtualenv (.venv) first.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

PLUGINS=(sandbox tap-ecommerce-postgres tap-stripe-custom tap-legacy-crm tap-csv-marketing target-minio-parquet)

install() {
  if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
  fi
  "$PY" -m pip install --quiet --upgrade pip uv
  local args=()
  for plugin in "${PLUGINS[@]}"; do
    if [ -f "$plugin/pyproject.toml" ]; then args+=(-e "$plugin"); fi
  done
  "$VENV/bin/uv" pip install --quiet --python "$PY" "${args[@]}" -r requirements-dev.txt
  # DuckDB cannot download extensions here: install httpfs from its PyPI wheel.
  "$PY" transform/scripts/install_duckdb_httpfs.py >/dev/null
}

case "${1:-help}" in
  install)
    install ;;
  demo)
    install
    shift
    exec "$PY" -m scripts.demo "$@" ;;
  test)
    install
    shift
    "$VENV/bin/ruff" format --check .
    "$VENV/bin/ruff" check .
    exec "$VENV/bin/pytest" "$@" ;;
  bench)
    install
    shift
    exec "$PY" bench/run.py "$@" ;;
  *)
    echo "usage: ./dev.sh demo|test|bench|install" >&2
    exit 2 ;;
esac
