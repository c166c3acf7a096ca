#!/usr/bin/env bash
# A short fuzz run of every target (SMOKE_SECONDS each, default 5) from a copy of the
# committed corpora, so the tree is left as it was. Fails if libFuzzer finds anything.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${SMOKE_SECONDS:-5}
cargo +nightly fuzz build -O >/dev/null
../bench/fuzz-corpus.sh unpack
bin=target/x86_64-unknown-linux-gnu/release
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
[ -d /dev/shm ] && export TMPDIR=/dev/shm
for target in exposition config disk_buffer checkpoint normalize framing jwt inject; do
  mkdir -p "$scratch/$target"
  [ -d "corpus/$target" ] && cp -r "corpus/$target/." "$scratch/$target/"
  if ! "$bin/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$scratch/" "$scratch/$target" >"$scratch/$target.log" 2>&1; then
    tail -n 40 "$scratch/$target.log"
    echo "fuzz smoke: $target found something (input kept above)"
    exit 1
  fi
  runs=$(grep -o 'Done [0-9]* runs' "$scratch/$target.log" | awk '{print $2}')
  printf 'fuzz smoke: %-12s %10s runs in %s s, nothing found\n' "$target" "${runs:-?}" "$seconds"
done
