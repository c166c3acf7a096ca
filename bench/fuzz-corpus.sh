#!/usr/bin/env bash
# The committed fuzz corpora are one archive per target, fuzz/corpus/<target>.tar.gz (a few
# thousand small inputs each would be as many files in the tree).
#
#   bench/fuzz-corpus.sh unpack   # fuzz/corpus/<target>/ from the archives (missing ones only)
#   bench/fuzz-corpus.sh pack     # minimize each fuzz/corpus/<target>/ (libFuzzer -merge=1)
#                                 # and write its archive; needs the built fuzz targets
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
targets=(exposition config disk_buffer checkpoint normalize framing jwt inject)
bin=target/x86_64-unknown-linux-gnu/release
case "${1:-}" in
  unpack)
    for target in "${targets[@]}"; do
      if [ -f "corpus/$target.tar.gz" ] && [ ! -d "corpus/$target" ]; then
        mkdir -p "corpus/$target"
        tar -xzf "corpus/$target.tar.gz" -C "corpus/$target"
      fi
    done
    ;;
  pack)
    [ -d /dev/shm ] && export TMPDIR=/dev/shm
    for target in "${targets[@]}"; do
      [ -d "corpus/$target" ] || continue
      minimized=$(mktemp -d)
      "$bin/$target" -merge=1 -timeout=10 -rss_limit_mb=2048 "$minimized" "corpus/$target" >/dev/null 2>&1
      tar -czf "corpus/$target.tar.gz" --sort=name --owner=0 --group=0 --numeric-owner \
        --mtime=@0 -C "$minimized" .
      printf '%-12s %6s inputs  %s\n' "$target" "$(ls "$minimized" | wc -l)" \
        "$(du -h "corpus/$target.tar.gz" | cut -f1)"
      rm -rf "$minimized"
    done
    ;;
  *)
    echo "usage: $0 unpack|pack" >&2
    exit 2
    ;;
esac
