#!/usr/bin/env bash
# install-test-tools.sh - install the outside tools the project's tests use.
#
# Usage: bash scripts/install-test-tools.sh      (as root, on Debian; idempotent)
#
#   * Debian packages: poppler-utils (pdfsig, pdftotext, pdftoppm), qpdf, libnss3-tools
#     (certutil), sqlite3, openssl, python3-venv, chromium + chromium-driver, fonts-noto-cjk.
#     apt-get runs only when one of them is missing.
#   * $TOOLS/venv: pyHanko, its CLI, its certificate validator and pypdf, pinned exactly
#     (used by tests/tools/*.py, which re-run themselves with this venv's python).
#   * $TOOLS/schemathesis-venv: schemathesis, in a venv of its own (its pins may clash).
#   TOOLS = ${ZHENGYIN_TEST_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/zhengyin-test-tools}
#
# A venv is (re)built only when the requirement list stamped inside it differs from the one
# below, so changing a pin re-installs and a venv already up to date costs nothing.
# Prints one summary line at the end.
set -euo pipefail

TOOLS="${ZHENGYIN_TEST_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/zhengyin-test-tools}"
PYTHON="${PYTHON:-python3}"
PDF_REQS='pyhanko[opentype,image-support]==0.38.0 pyhanko-cli==0.6.0 pyhanko-certvalidator==0.33.0 pypdf==7.1.0'
SCHEMA_REQS='schemathesis==4.32.5'

# --- Debian packages -------------------------------------------------------------------
missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || missing+=("$1"); }
need_cmd pdfsig poppler-utils
need_cmd pdftotext poppler-utils
need_cmd pdftoppm poppler-utils
need_cmd qpdf qpdf
need_cmd certutil libnss3-tools
need_cmd sqlite3 sqlite3
need_cmd openssl openssl
need_cmd chromium chromium
need_cmd chromedriver chromium-driver
need_pkg python3-venv
# (grep reads all of fc-list's output: with -q, fc-list may die of SIGPIPE and pipefail trips)
fc-list 2>/dev/null | grep 'Noto Serif CJK' >/dev/null || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "install-test-tools: apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- Python venvs ----------------------------------------------------------------------
# ensure_venv DIR REQUIREMENTS...: (re)build DIR unless its stamp lists exactly REQUIREMENTS.
ensure_venv() {
  local dir="$1"; shift
  local want stamp="$dir/zhengyin-requirements.txt"
  want="$(printf '%s\n' "$@")"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  echo "install-test-tools: building $dir" >&2
  rm -f "$stamp"
  "$PYTHON" -m venv --clear "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
  printf '%s\n' "$want" >"$stamp"
}
# shellcheck disable=SC2086  # the requirement lists are meant to split on spaces
ensure_venv "$TOOLS/venv" $PDF_REQS
# shellcheck disable=SC2086
ensure_venv "$TOOLS/schemathesis-venv" $SCHEMA_REQS

ver() { "$1/bin/python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$2"; }
echo "test tools ready: $(pdfsig -v 2>&1 | sed -n 1p); qpdf $(qpdf --version | awk 'NR==1{print $3}');" \
  "$(chromium --version 2>/dev/null | sed -n 1p); pyhanko $(ver "$TOOLS/venv" pyhanko)," \
  "pypdf $(ver "$TOOLS/venv" pypdf) in $TOOLS/venv;" \
  "schemathesis $(ver "$TOOLS/schemathesis-venv" schemathesis) in $TOOLS/schemathesis-venv"
