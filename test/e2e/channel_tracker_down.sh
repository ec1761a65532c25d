#!/usr/bin/env bash
# Channels with every tracker gone: a publisher and two subscribers in sync
# (and neither a second publisher nor a subscriber can use the publisher's
# directory),
# then the tracker is killed for good. The next version (an edit, a new file)
# still reaches both subscribers, through the mesh alone: the manifest, the
# seeds of its files (SeedRequest) and the files themselves (their swarms
# dial the channel's peers), verified as ever.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/site/docs"
head -c $((1 << 20)) /dev/urandom >"$WORK/site/big.bin"
echo "hello" >"$WORK/site/docs/hello.txt"

start_tracker
"$PEER" keygen -o "$WORK/site.key" >"$WORK/keygen.out" 2>"$WORK/keygen.log" || fail "keygen exited with $?"
channel=$(cat "$WORK/keygen.out")

"$PEER" publish "$WORK/site" --key "$WORK/site.key" --name site --tracker "$TRACKER_ADDR" \
    --host 127.0.0.1 --no-state --rescan 0.2 >"$WORK/publisher.out" 2>"$WORK/publisher.log" &
PIDS+=($!)
PUBLISHER_PID=$!
wait_for_line "$WORK/publisher.out" "published version 1: 2 files"
for s in sub1 sub2; do
    "$PEER" subscribe "$channel" "$WORK/$s" --tracker "$TRACKER_ADDR" --host 127.0.0.1 \
        --rescan 0.2 >"$WORK/$s.out" 2>"$WORK/$s.log" &
    PIDS+=($!)
done
wait_for_line "$WORK/sub1.out" "version 1 applied" 30
wait_for_line "$WORK/sub2.out" "version 1 applied" 30
wait_same "$WORK/site" "$WORK/sub1" 10
wait_same "$WORK/site" "$WORK/sub2" 10

# One process per directory: a second publisher, or a subscriber syncing into
# the publisher's directory, is refused with one line, and changes nothing.
if "$PEER" publish "$WORK/site" --key "$WORK/site.key" --tracker "$TRACKER_ADDR" --host 127.0.0.1 \
    --no-state >"$WORK/publish2.out" 2>"$WORK/publish2.log"; then
    fail "a second publisher of the same directory ran"
fi
grep -q "in use by another seedshare process" "$WORK/publish2.log" || fail "publish2: $(cat "$WORK/publish2.log")"
if timeout 60 "$PEER" subscribe "$channel" "$WORK/site" --tracker "$TRACKER_ADDR" --host 127.0.0.1 \
    --once >"$WORK/into.out" 2>"$WORK/into.log"; then
    fail "a subscriber synced into the publisher's directory"
fi
grep -q "in use by another seedshare process" "$WORK/into.log" || fail "into: $(cat "$WORK/into.log")"

# The tracker goes for good (shown running first).
kill -0 "$TRACKER_PID" || fail "the tracker was not running"
kill -KILL "$TRACKER_PID"
wait "$TRACKER_PID" 2>/dev/null || true
echo "tracker killed"

# Version 2: a new file (its seed is known to no one but the publisher) and
# an edit of big.bin.
head -c $((300 << 10)) /dev/urandom >"$WORK/site/docs/new.bin"
printf 'X' | dd of="$WORK/site/big.bin" bs=1 seek=$((512 << 10)) conv=notrunc status=none
wait_for_line "$WORK/publisher.out" "published version 2" 20
wait_same "$WORK/site" "$WORK/sub1" 60
wait_same "$WORK/site" "$WORK/sub2" 60
for s in sub1 sub2; do
    wait_for_line "$WORK/$s.out" "version 2 applied" 10
    grep -q "seeds of version 2 from the channel's peers" "$WORK/$s.log" ||
        fail "$s did not take version 2's seeds from its peers: $(grep -i seed "$WORK/$s.log" | tail -n 3)"
done
for p in "$PUBLISHER_PID" "${PIDS[@]:1}"; do
    kill -0 "$p" || fail "process $p is no longer running"
done
echo "ok"
