#!/usr/bin/env bash
# Install Złote Lajki into .venv and start it on SQLite with the demo gala loaded.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .

export FLASK_APP=wsgi
.venv/bin/flask db upgrade
.venv/bin/flask demo
login=$(.venv/bin/flask organizer ensure-demo)

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
# One worker with threads: failed logins are counted in its memory (set RATELIMIT_STORAGE_URI
# to Redis before running several workers).
WORKERS=${WORKERS:-1}
cat <<INFO

  Złote Lajki is running: http://localhost:${PORT}/
  Organizer admin:        http://localhost:${PORT}/admin/
  ${login//$'\n'/$'\n'  }
  (the password is kept in instance/demo-organizer-password)

  Stop with Ctrl+C.
INFO
# The cards printed from this instance point at it, unless PUBLIC_BASE_URL says otherwise.
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://localhost:${PORT}}
# No access log: its request lines would carry the cards' QR links (/v/<token>), secrets that
# still vote until used.
exec .venv/bin/gunicorn --bind "${HOST}:${PORT}" --workers "$WORKERS" --threads 8 wsgi:app
