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

# get_paced NAME SEED OUT: a get paced to 1 MiB/s (so it is surely still
# running when the other starts), in the background; sets GOT_PID.
get_paced() {
    "$PEER" get "$2" -o "$3" --host 127.0.0.1 --max-download-rate 1M \
        >"$WORK/$1.out" 2>"$WORK/$1.log" &
    GOT_PID=$!
    PIDS+=($GOT_PID)
}
# running PID WHAT: fails unless PID is still running.
running() { kill -0 "$1" 2>/dev/null || fail "$2 was not running any more"; }

# second_refused FIRST SEED1 SECOND SEED2 OUT: a paced get of SEED1 into OUT,
# then, while it surely runs, a get of SEED2 into OUT: the second must be
# refused at once (exit 1, saying why, claiming nothing), the first must
# still be running then, and must complete with SEED1's bytes.
second_refused() {
    local first=$1 seed1=$2 second=$3 seed2=$4 out=$5 pid rc=0
    get_paced "$first" "$seed1" "$out"
    pid=$GOT_PID
    wait_for_line "$WORK/$first.log" "fetching data.bin"
    running "$pid" "the $first get"
    timeout 60 "$PEER" get "$seed2" -o "$out" --host 127.0.0.1 \
        >"$WORK/$second.out" 2>"$WORK/$second.log" || rc=$?
    running "$pid" "the $first get (after the $second was refused)"
    [[ $rc -eq 1 ]] || fail "the $second get exited $rc: $(cat "$WORK/$second.log")"
    grep -q "being downloaded by another seedshare process" "$WORK/$second.log" ||
        fail "the $second get did not say why: $(cat "$WORK/$second.log")"
    grep -q "verified" "$WORK/$second.out" && fail "the refused get claimed success: $(cat "$WORK/$second.out")"
    rc=0
    wait "$pid" || rc=$?
    [[ $rc -eq 0 ]] || fail "the $first get exited $rc: $(cat "$WORK/$first.log")"
    grep -q "whole-file SHA-256 verified" "$WORK/$first.out" || fail "no success line: $(cat "$WORK/$first.out")"
    [[ ! -e "$out/data.bin.part" ]] || fail "a .part was left behind in $out"
}

# 1. Different seeds, same NAME: NAME holds the bytes of the seed that succeeded.
second_refused first "$WORK/a.seed" second "$WORK/b.seed" "$WORK/out"
cmp "$WORK/a/data.bin" "$WORK/out/data.bin" || fail "NAME does not hold the bytes of the seed that succeeded"
echo "different seeds, one NAME: the second refused, the first complete and right"

# 2. The same seed twice.
second_refused third "$WORK/a.seed" fourth "$WORK/a.seed" "$WORK/out2"
cmp "$WORK/a/data.bin" "$WORK/out2/data.bin" || fail "the file differs"
echo "one seed twice: the second refused, the first complete"
echo "ok"
