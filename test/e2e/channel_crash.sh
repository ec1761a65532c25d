#!/usr/bin/env bash
# Faults: a subscriber killed with SIGKILL in the middle of applying a
# version (a paced publisher makes the update last seconds), then started
# again: it resumes (the chunks it had verified are not fetched again), ends
# on the version with DIR identical to the publisher's, and nothing of the
# update is left in DIR (temporary files live in DIR/.seedshare/tmp).
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/site"
size=$((48 << 20))
head -c "$size" /dev/urandom >"$WORK/site/data.bin"
# The chunks of the version: data.bin's under the default policy (the
# publisher's), and small.txt's one.
"$PEER" make-seed "$WORK/site/data.bin" -o "$WORK/probe.seed" >/dev/null || fail "make-seed failed"
total=$(($(awk '$1 == "chunks" {print $2}' "$WORK/probe.seed") + 1))
echo "small" >"$WORK/site/small.txt"

start_tracker
channel=$("$PEER" keygen -o "$WORK/site.key" 2>/dev/null) || fail "keygen failed"
"$PEER" publish "$WORK/site" --key "$WORK/site.key" --tracker "$TRACKER_ADDR" --host 127.0.0.1 \
    --no-state --max-upload-rate 8M >"$WORK/publisher.out" 2>"$WORK/publisher.log" &
PIDS+=($!)
wait_for_line "$WORK/publisher.out" "published version 1"

# First run: killed 2 s into fetching data.bin (about 16 MiB at 8 MiB/s),
# well before the ~6 s the update takes.
"$PEER" subscribe "$channel" "$WORK/sub" --tracker "$TRACKER_ADDR" --host 127.0.0.1 \
    >"$WORK/sub1.out" 2>"$WORK/sub1.log" &
SUB=$!
PIDS+=($SUB)
wait_for_line "$WORK/sub1.log" "fetching data.bin" 30
sleep 2
kill -0 "$SUB" || fail "the subscriber ended before it could be killed"
! grep -q "version 1 applied" "$WORK/sub1.out" || fail "version 1 was applied before the kill"
kill -KILL "$SUB"
wait "$SUB" 2>/dev/null || true
[[ ! -e "$WORK/sub/data.bin" ]] || fail "data.bin is in DIR before it was verified"

# Second run: resumes and completes.
timeout 120 "$PEER" subscribe "$channel" "$WORK/sub" --tracker "$TRACKER_ADDR" --host 127.0.0.1 \
    --once >"$WORK/sub2.out" 2>"$WORK/sub2.log" || fail "the second subscribe exited with $?"
grep -q "version 1 applied" "$WORK/sub2.out" || fail "second run: $(cat "$WORK/sub2.out")"
cmp "$WORK/site/data.bin" "$WORK/sub/data.bin" || fail "data.bin differs"
cmp "$WORK/site/small.txt" "$WORK/sub/small.txt" || fail "small.txt differs"
# What was verified before the kill was kept: at least a tenth of the
# chunks (about a third were fetched in the first run) did not cross the
# network again.
net=$(sed -n 's/.* \([0-9]*\) from the network.*/\1/p' "$WORK/sub2.out" | tail -n 1)
[[ -n "$net" && "$net" -le $((total - total / 10)) ]] ||
    fail "the second run fetched '$net' of $total chunks: too little was resumed"
left=$(find "$WORK/sub" -path "$WORK/sub/.seedshare" -prune -o -type f -print | grep -v -e data.bin -e small.txt || true)
[[ -z "$left" ]] || fail "left in DIR: $left"
echo "ok: resumed, fetched $net of $total chunks the second time"
