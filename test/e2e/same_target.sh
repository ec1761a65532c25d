#!/usr/bin/env bash
# Data integrity: two `peer get` processes never work on one target at once.
# 1. Two different files of the same NAME, got into one directory a moment
#    apart: the second is refused at once, the first completes, and NAME holds
#    exactly the bytes of the seed that reported success.
# 2. The same seed twice into one directory: the second is refused at once
#    and the first still completes.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/a" "$WORK/b" "$WORK/out" "$WORK/out2"
head -c $((8 << 20)) /dev/urandom >"$WORK/a/data.bin"
head -c $((6 << 20)) /dev/urandom >"$WORK/b/data.bin"
start_tracker
"$PEER" make-seed "$WORK/a/data.bin" -o "$WORK/a.seed" --tracker "$TRACKER_ADDR" >/dev/null
"$PEER" make-seed "$WORK/b/data.bin" -o "$WORK/b.seed" --tracker "$TRACKER_ADDR" >/dev/null
start_serve a "$WORK/a"
start_serve b "$WORK/b"

# get_paced NAME SEED OUT: a get paced to 2 MiB/s (so it is surely still
# running when the other starts), in the background; sets GOT_PID.
get_paced() {
    "$PEER" get "$2" -o "$3" --host 127.0.0.1 --max-download-rate 2M \
        >"$WORK/$1.out" 2>"$WORK/$1.log" &
    GOT_PID=$!
    PIDS+=($GOT_PID)
}
# running PID WHAT: fails unless PID is still running.
running() { kill -0 "$1" 2>/dev/null || fail "$2 was not running any more"; }

# 1. Different seeds, same NAME.
get_paced first "$WORK/a.seed" "$WORK/out"
first=$GOT_PID
wait_for_line "$WORK/first.log" "fetching data.bin"
running "$first" "the first get"
rc=0
timeout 60 "$PEER" get "$WORK/b.seed" -o "$WORK/out" --host 127.0.0.1 \
    >"$WORK/second.out" 2>"$WORK/second.log" || rc=$?
running "$first" "the first get (after the second was refused)"
[[ $rc -eq 1 ]] || fail "the second get of another seed exited $rc: $(cat "$WORK/second.log")"
grep -q "being downloaded by another seedshare process" "$WORK/second.log" ||
    fail "the second get did not say why: $(cat "$WORK/second.log")"
grep -q "verified" "$WORK/second.out" && fail "the refused get claimed success: $(cat "$WORK/second.out")"
rc=0
wait "$first" || rc=$?
[[ $rc -eq 0 ]] || fail "the first get exited $rc: $(cat "$WORK/first.log")"
grep -q "whole-file SHA-256 verified" "$WORK/first.out" || fail "no success line: $(cat "$WORK/first.out")"
cmp "$WORK/a/data.bin" "$WORK/out/data.bin" || fail "NAME does not hold the bytes of the seed that succeeded"
[[ ! -e "$WORK/out/data.bin.part" ]] || fail "a .part was left behind"
echo "different seeds, one NAME: the second refused, the first complete and right"

# 2. The same seed twice.
get_paced third "$WORK/a.seed" "$WORK/out2"
third=$GOT_PID
wait_for_line "$WORK/third.log" "fetching data.bin"
running "$third" "the third get"
rc=0
timeout 60 "$PEER" get "$WORK/a.seed" -o "$WORK/out2" --host 127.0.0.1 \
    >"$WORK/fourth.out" 2>"$WORK/fourth.log" || rc=$?
running "$third" "the third get (after the fourth was refused)"
[[ $rc -eq 1 ]] || fail "the second get of the same seed exited $rc: $(cat "$WORK/fourth.log")"
grep -q "being downloaded by another seedshare process" "$WORK/fourth.log" ||
    fail "the second get did not say why: $(cat "$WORK/fourth.log")"
rc=0
wait "$third" || rc=$?
[[ $rc -eq 0 ]] || fail "the first get of the same seed exited $rc: $(cat "$WORK/third.log")"
cmp "$WORK/a/data.bin" "$WORK/out2/data.bin" || fail "the file differs"
echo "one seed twice: the second refused, the first complete"
echo "ok"
