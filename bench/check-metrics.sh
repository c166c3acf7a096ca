#!/usr/bin/env bash
# `vigia check-metrics` against `promtool check metrics` on the same file, whole process:
# wall time and peak RSS (/usr/bin/time), RUNS runs each, alternating; and a series with
# 100,000 labels. Usage: bench/check-metrics.sh [RUNS]
# The exposition: 1,000,000 counter series in 1,000 families (~99 MB, text 0.0.4).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cargo build --release --locked --quiet
vigia=target/release/vigia
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work/1m.prom" <<'PY'
import sys
with open(sys.argv[1], "w") as out:
    for f in range(1000):
        out.write(f"# HELP fam{f}_total Requests of family {f}.\n# TYPE fam{f}_total counter\n")
        for i in range(1000):
            out.write(f'fam{f}_total{{method="GET",route="/api/v1/items/{i}",status="200",instance="10.0.{f % 256}.{i % 256}:8080"}} {i * 7}\n')
PY
python3 -c "print('# TYPE a gauge'); print('a{' + ','.join(f'l{i}=\"v{i}\"' for i in range(100000)) + '} 1'); print('# EOF')" > "$work/100k.om"
echo "input: $(stat -c %s "$work/1m.prom") bytes, 1,000,000 series"

measure() { # name, command...
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>&1 || true
  read -r seconds kib < "$work/time"
  printf '%-9s %6.2f s  %7.1f MiB\n' "$name" "$seconds" "$(awk -v k="$kib" 'BEGIN { print k / 1024 }')"
}
for run in $(seq 1 "$runs"); do
  measure vigia "$vigia" check-metrics "$work/1m.prom"
  measure promtool sh -c "promtool check metrics < '$work/1m.prom'"
done
measure "vigia 100k labels" "$vigia" check-metrics --format openmetrics "$work/100k.om"
