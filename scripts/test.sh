#!/usr/bin/env bash
# Install Złote Lajki with its test tools into .venv and run the whole test suite:
# on SQLite, and again on PostgreSQL when TEST_DATABASE_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

# The browser tests drive Debian's Chromium (never a browser download).
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Chromium (apt-get)"
  if [ "$(id -u)" -eq 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
  $apt_get update -qq
  DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq chromium >/dev/null
fi

echo "== ruff"
.venv/bin/ruff check .

echo "== pytest on SQLite"
env -u TEST_DATABASE_URL .venv/bin/pytest "$@"

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  echo "== pytest on PostgreSQL"
  .venv/bin/pytest "$@"
fi
