#!/usr/bin/env bash
# Refresh the translation catalogs after changing user-facing strings:
#   bash scripts/i18n.sh update   extract strings and merge them into the Polish catalog
#   bash scripts/i18n.sh compile  compile the catalogs (the .mo files are committed)
set -euo pipefail
cd "$(dirname "$0")/.."
catalogs=voting/translations
case "${1:-}" in
  update)
    .venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
      --project "Złote Lajki" -o "$catalogs/messages.pot" .
    .venv/bin/pybabel update -i "$catalogs/messages.pot" -d "$catalogs" --no-fuzzy-matching
    ;;
  compile)
    .venv/bin/pybabel compile -d "$catalogs" --statistics
    ;;
  *) echo "usage: $0 update|compile" >&2; exit 2 ;;
esac
