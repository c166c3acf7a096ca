#!/usr/bin/env bash
# The long fuzz run: every cargo-fuzz target until 10^7 executions (or MAX_SECONDS each), two
# at a time (the machine has two cores), seeded with the committed corpus and the test
# fixtures. Prints one line per target: executions, seconds, coverage, corpus size, and
# whether libFuzzer found anything (a crash, a timeout, a leak or an out-of-memory input is
# saved under fuzz/artifacts/<target>/ and the run fails).
#
#   bench/fuzz.sh                      # all targets
#   MAX_SECONDS=600 bench/fuzz.sh jwt  # some, capped
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). File targets run
# with TMPDIR on /dev/shm when it exists.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

RUNS=${RUNS:-10000000}
MAX_SECONDS=${MAX_SECONDS:-3600}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(jwt framing exposition normalize checkpoint config disk_buffer inject)

cargo +nightly fuzz build -O >/dev/null
../bench/fuzz-corpus.sh unpack
bin=target/x86_64-unknown-linux-gnu/release
[ -d /dev/shm ] && export TMPDIR=/dev/shm

seeds() {
  case "$1" in
    exposition) echo ../tests/data/exposition ;;
    config) echo ../tests/data/config ../examples ;;
    normalize) echo ../tests/data/formats ../tests/data/logs ../tests/data/redaction ;;
    framing) echo ../tests/data/logs ;;
    *) ;;
  esac
}

run_one() {
  local target=$1 log=/tmp/vigia-fuzz-$1.log
  mkdir -p "corpus/$target" "artifacts/$target"
  # shellcheck disable=SC2046
  "$bin/$target" -runs="$RUNS" -max_total_time="$MAX_SECONDS" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="artifacts/$target/" \
    "corpus/$target" $(seeds "$target") >"$log" 2>&1 && status=ok || status=FOUND
  local executions seconds coverage units
  executions=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  seconds=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | awk '{print $5}')
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  units=$(ls "corpus/$target" | wc -l)
  printf '%-12s %-5s executions %12s  seconds %6s  coverage %6s  corpus %6s\n' \
    "$target" "$status" "${executions:-?}" "${seconds:-?}" "${coverage:-?}" "$units"
}

failed=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run_one "${targets[i]}" &
  first=$!
  if [ $((i + 1)) -lt ${#targets[@]} ]; then run_one "${targets[i + 1]}" & second=$!; else second=; fi
  wait $first || failed=1
  [ -z "$second" ] || wait "$second" || failed=1
done
exit $failed
