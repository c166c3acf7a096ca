#!/usr/bin/env bash
# Soak: 10 minutes at 50,000 lines/s with three 30 s Loki outages and rename rotation, vigia
# with the default configuration in front of the strict in-repo Loki receiver. Prints lines
# written, missing and doubled, peak RSS, the disk buffer's peak and CPU.
# Usage: bench/soak.sh   (SOAK_SECONDS and RATE override the length and the rate;
#        ROTATION=copytruncate rotates by copy and truncation)
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK_SECONDS=${SOAK_SECONDS:-600} RATE=${RATE:-50000} cargo bench --locked --bench soak
