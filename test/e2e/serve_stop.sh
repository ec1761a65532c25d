#!/usr/bin/env bash
# `peer serve` stops cleanly on SIGTERM: exit 0, one "served" line per file,
# and the tracker forgets it at once (it said goodbye, no waiting for a TTL).
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/share"
head -c $((3 << 20)) /dev/urandom >"$WORK/share/one.bin"
head -c 1000 /dev/urandom >"$WORK/share/two.txt"
start_tracker --ttl 600
start_serve s "$WORK/share"
serve_pid=${PIDS[-1]}

"$PEER" list --tracker "$TRACKER_ADDR" >"$WORK/list1.out" 2>&1 || fail "list failed"
grep -q "one.bin" "$WORK/list1.out" || fail "one.bin not listed: $(cat "$WORK/list1.out")"
grep -q "two.txt" "$WORK/list1.out" || fail "two.txt not listed: $(cat "$WORK/list1.out")"

kill -TERM "$serve_pid"
rc=0
wait "$serve_pid" || rc=$?
[[ $rc -eq 0 ]] || fail "serve exited with $rc after SIGTERM"
grep -q "^served one.bin: 0 bytes to 0 peers$" "$WORK/s.out" || fail "no served line: $(cat "$WORK/s.out")"
grep -q "^served two.txt: " "$WORK/s.out" || fail "no served line for two.txt"

"$PEER" list --tracker "$TRACKER_ADDR" >"$WORK/list2.out" 2>&1 || fail "list failed"
grep -q "one.bin" "$WORK/list2.out" && fail "the tracker still lists one.bin after serve left: $(cat "$WORK/list2.out")"
echo "ok"
