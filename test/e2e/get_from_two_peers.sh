#!/usr/bin/env bash
# Real binaries on loopback: a tracker, two `peer serve`, one `peer get`; the
# file arrives byte-identical, from both peers, and the tracker lists it.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/a" "$WORK/b" "$WORK/out"
head -c $((24 << 20)) /dev/urandom >"$WORK/a/data.bin"
cp "$WORK/a/data.bin" "$WORK/b/data.bin"

start_tracker
# The default chunk size, as `serve` uses: the same file gets the same seed id.
"$PEER" make-seed "$WORK/a/data.bin" -o "$WORK/data.seed" --tracker "$TRACKER_ADDR" >/dev/null
start_serve a "$WORK/a"
start_serve b "$WORK/b"

timeout 60 "$PEER" get "$WORK/data.seed" -o "$WORK/out" >"$WORK/get.out" 2>"$WORK/get.log" ||
    fail "get exited with $?"
cmp "$WORK/a/data.bin" "$WORK/out/data.bin" || fail "the downloaded file differs"
[[ ! -e "$WORK/out/data.bin.part" ]] || fail "the .part file is still there"
grep -q "whole-file SHA-256 verified" "$WORK/get.out" || fail "no summary: $(cat "$WORK/get.out")"
froms=$(grep -c "^  from " "$WORK/get.out" || true)
[[ "$froms" -eq 2 ]] || fail "expected bytes from 2 peers, got $froms: $(cat "$WORK/get.out")"

"$PEER" list --tracker "$TRACKER_ADDR" >"$WORK/list.out" 2>"$WORK/list.log" || fail "list exited with $?"
grep -q "data.bin" "$WORK/list.out" || fail "list does not show data.bin: $(cat "$WORK/list.out")"

# Fetch by seed id from the tracker, into another directory.
id=$(grep -v '^tracker ' "$WORK/data.seed" | sha256sum | cut -d' ' -f1)
mkdir -p "$WORK/out2"
timeout 60 "$PEER" get "$id" --tracker "$TRACKER_ADDR" -o "$WORK/out2" -q >"$WORK/get2.out" 2>"$WORK/get2.log" ||
    fail "get by id exited with $?"
cmp "$WORK/a/data.bin" "$WORK/out2/data.bin" || fail "the file fetched by id differs"
echo "ok"
