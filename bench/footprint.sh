#!/usr/bin/env bash
# Footprint of the release binary: stripped size, idle RSS and idle CPU of `vigia run` with the
# embedded default (stdin open but silent, /metrics scraped every 15 s). Usage: bench/footprint.sh [IDLE_SECONDS]
# Prints one `key: value` line per figure (the figures in docs/benchmarks.md come from here).
set -euo pipefail
cd "$(dirname "$0")/.."
idle_seconds=${1:-60}

cargo build --release --locked --quiet
binary=target/release/vigia
echo "binary: $binary ($(file -b "$binary" | cut -d, -f1-2))"
echo "binary_bytes: $(stat -c %s "$binary")"
echo "binary_mib: $(awk -v b="$(stat -c %s "$binary")" 'BEGIN { printf "%.2f", b / 1048576 }')"

# stdin stays open (a FIFO nobody writes to) so the agent idles instead of exiting at EOF.
workdir=$(mktemp -d)
mkfifo "$workdir/stdin"
exec 3<>"$workdir/stdin"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
VIGIA_LOG=warn "$binary" run --admin-listen "127.0.0.1:$port" <"$workdir/stdin" >/dev/null 2>"$workdir/stderr" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; exec 3>&-; rm -rf "$workdir"' EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
sleep 2 # let start-up settle

ticks_per_second=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
start_ticks=$(cpu_ticks)
# Idle as a sidecar is: nothing to read, and Prometheus scraping /metrics every 15 s.
deadline=$((SECONDS + idle_seconds))
while ((SECONDS < deadline)); do
  curl -fsS "http://127.0.0.1:$port/metrics" >/dev/null
  sleep "$((deadline - SECONDS < 15 ? deadline - SECONDS : 15))"
done
end_ticks=$(cpu_ticks)
rss_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
hwm_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
threads=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")

echo "idle_rss_mib: $(awk -v k="$rss_kib" 'BEGIN { printf "%.2f", k / 1024 }')"
echo "peak_rss_mib: $(awk -v k="$hwm_kib" 'BEGIN { printf "%.2f", k / 1024 }')"
echo "threads: $threads"
echo "idle_cpu_percent_of_a_core: $(awk -v t=$((end_ticks - start_ticks)) -v hz="$ticks_per_second" -v s="$idle_seconds" 'BEGIN { printf "%.3f", 100 * t / hz / s }') (over ${idle_seconds}s, $((end_ticks - start_ticks)) ticks)"
