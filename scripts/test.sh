#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine with Rust: installs what the tests need
# (scripts/install-test-tools.sh), checks formatting and lints, and runs every test. This is
# the README's test command, and all that .ci/run does.
#
# Tests that need the real-world material in ../shared, PostgreSQL (127.0.0.1:5432, or
# ZHENGYIN_TEST_POSTGRES) or a tmpfs skip with a `SKIPPED …` line when it is missing, listed
# again at the end; under CI=true a missing one fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-tools.sh
for component in rustfmt clippy; do
  cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1 || rustup component add "$component"
done
cargo fmt --check
cargo clippy --all-targets -- -D warnings
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test 2>&1 | tee "$log"
skipped="$(grep '^SKIPPED' "$log" || true)"
if [ -n "$skipped" ]; then
  printf '\n%s tests skipped what they need and is missing here:\n%s\n' \
    "$(printf '%s\n' "$skipped" | wc -l)" "$skipped"
fi
