#!/usr/bin/env bash
# A small swarm on a shaped network (scripts/bench/netswarm): 12 hosts, each
# a network namespace with its own address and a 4 MiB/s upload cap; a
# tracker, a seeder and 10 getters (`peer get --serve`) started at once,
# 4 MiB. Passes when every getter completed with the file verified (its
# --json summary says so, and the copy equals the source); no bound on the
# time (the bench's --timeout only catches a hang). Skipped (exit 77) where
# root or network namespaces or tc are missing. Every namespace and process
# it makes is removed by the script, however it ends.
set -euo pipefail
BUILD=${1:?usage: $0 BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
exec timeout 200 python3 "$ROOT/scripts/bench/netswarm" --hosts 12 --size 4 --rate 4 --runs 1 \
    --systems seedshare --build-dir "$BUILD" --timeout 150
