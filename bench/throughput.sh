#!/usr/bin/env bash
# End-to-end throughput of the whole binary against a local 204 sink (step 14): JSON,
# access-log and mixed real corpora, three runs each; lines/s, lines per CPU-second, peak RSS.
# Options are environment variables, see benches/throughput.rs (CORPUS, LINES, RUNS, FILES,
# CPUS, BUFFER, PERF_DATA). Figures: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --bench throughput
