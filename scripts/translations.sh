#!/bin/sh
# The recipient pages' message catalogues (README "Languages"), with the same options every time so a diff
# shows only what changed. Run from anywhere, with the project's virtualenv (or pybabel on PATH):
#
#     scripts/translations.sh update     # after changing a page's text: extract messages.pot from the
#                                        # sources (babel.cfg), merge it into every language's messages.po
#     scripts/translations.sh compile    # after editing a messages.po: write its messages.mo (commit both)
#     scripts/translations.sh init xx    # a new language xx (also add it to prefs/languages.py)
#
# tests/test_translations.py fails while a catalogue has an untranslated, fuzzy or obsolete message, a
# placeholder that differs from its message id, or a messages.mo that is not what compiling its .po gives.
set -eu

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PYBABEL="${PYBABEL:-$ROOT/.venv/bin/pybabel}"
[ -x "$PYBABEL" ] || PYBABEL=pybabel
DIR=prefs/translations
POT=$DIR/messages.pot

case "${1:-}" in
update)
    "$PYBABEL" extract -F babel.cfg -k _l -k N_ --add-location=file --sort-output --no-wrap \
        --project=prefs --copyright-holder="prefs contributors" -o "$POT" .
    "$PYBABEL" update -i "$POT" -d "$DIR" --no-wrap --ignore-pot-creation-date
    ;;
compile)
    "$PYBABEL" compile -d "$DIR" --statistics
    ;;
init)
    [ -n "${2:-}" ] || { echo "usage: $0 init LOCALE (e.g. it, pt_BR)" >&2; exit 2; }
    "$PYBABEL" init -i "$POT" -d "$DIR" -l "$2" --no-wrap
    ;;
*)
    echo "usage: $0 update | compile | init LOCALE" >&2
    exit 2
    ;;
esac
