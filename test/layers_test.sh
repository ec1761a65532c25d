#!/usr/bin/env bash
# scripts/check-layers: the real tree passes, and a tree where a lower folder
# includes a higher one (or a folder no layer names) fails, naming it.
set -euo pipefail
SRC=${1:?usage: $0 SOURCE_DIR}
"$SRC/scripts/check-layers" "$SRC"
work=$(mktemp -d /tmp/seedshare-layers.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{common,peer,tracker}
for f in common/core common/crypto common/model common/wire common/env common/net peer/storage \
    peer/discovery peer/swarm peer/node peer/transfer peer/library peer/channel peer/backup peer/app tracker/sqlite \
    common/http tracker/http \
    tracker/core tracker/etcd tracker/server tracker/app; do
    mkdir -p "$work/$f" && echo '#pragma once' >"$work/$f/x.hpp"
done
"$SRC/scripts/check-layers" "$work" >/dev/null || { echo "FAIL: a clean tree was refused"; exit 1; }
echo '#include "peer/app/x.hpp"' >>"$work/peer/swarm/x.hpp"
rc=0
out=$("$SRC/scripts/check-layers" "$work") || rc=$?
[[ $rc -eq 1 ]] || { echo "FAIL: an upward include passed"; exit 1; }
grep -q "peer/swarm/x.hpp: includes peer/app/x.hpp" <<<"$out" || { echo "FAIL: not named: $out"; exit 1; }
sed -i '$d' "$work/peer/swarm/x.hpp"
echo '#include "tracker/core/x.hpp"' >>"$work/peer/app/x.hpp"
"$SRC/scripts/check-layers" "$work" >/dev/null && { echo "FAIL: peer including tracker passed"; exit 1; }
sed -i '$d' "$work/peer/app/x.hpp"
echo '#include "common/net/x.hpp"' >>"$work/common/env/x.hpp"
"$SRC/scripts/check-layers" "$work" >/dev/null && { echo "FAIL: common/env including sockets passed"; exit 1; }
sed -i '$d' "$work/common/env/x.hpp"
mkdir -p "$work/peer/misc" && echo '#pragma once' >"$work/peer/misc/y.hpp"
"$SRC/scripts/check-layers" "$work" >/dev/null && { echo "FAIL: a folder in no layer passed"; exit 1; }
echo "ok"
