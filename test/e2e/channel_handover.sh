#!/usr/bin/env bash
# Handing a channel over to another key with the real binaries on loopback
# (issue 14): two keys, the old one publishes and a subscriber follows; `peer
# handover` signs the record; the new key, on a directory of its own, brings
# the channel back from the subscriber, publishes the next version, and the
# subscriber takes it. The old key started again publishes nothing and says
# which key publishes now; the new key restarted without --handover goes on.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/old" "$WORK/new"
head -c $((1 << 20)) /dev/urandom >"$WORK/old/big.bin"
echo "hello" >"$WORK/old/hello.txt"

start_tracker
channel=$("$PEER" keygen -o "$WORK/old.key" 2>/dev/null) || fail "keygen of the old key failed"
new_public=$("$PEER" keygen -o "$WORK/new.key" 2>/dev/null) || fail "keygen of the new key failed"
[[ "$channel" =~ ^[0-9a-f]{64}$ && "$new_public" =~ ^[0-9a-f]{64}$ ]] || fail "keygen printed no key"

publish() {  # NAME DIR KEY [ARGS...]: a publisher, its output in NAME.out / NAME.log
    local name=$1 dir=$2 key=$3
    shift 3
    "$PEER" publish "$dir" --key "$key" --name site --tracker "$TRACKER_ADDR" --host 127.0.0.1 \
        --no-state --rescan 0.2 "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
    PIDS+=($!)
    LAST_PID=$!
}
publish old "$WORK/old" "$WORK/old.key"
OLD_PID=$LAST_PID
wait_for_line "$WORK/old.out" "published version 1: 2 files"
"$PEER" subscribe "$channel" "$WORK/sub" --tracker "$TRACKER_ADDR" --host 127.0.0.1 \
    --rescan 0.2 >"$WORK/sub.out" 2>"$WORK/sub.log" &
PIDS+=($!)
SUB_PID=$!
wait_for_line "$WORK/sub.out" "version 1 applied" 30

# The old publisher stops and hands over.
kill -0 "$OLD_PID" || fail "the old publisher ended early"
kill "$OLD_PID"
wait "$OLD_PID" || fail "the old publisher exited with $?"
"$PEER" handover "$WORK/old" --key "$WORK/old.key" --to "$new_public" -o "$WORK/site.handover" \
    >"$WORK/handover.out" 2>"$WORK/handover.log" || fail "peer handover exited with $?"
[[ "$(cat "$WORK/handover.out")" == "$channel" ]] || fail "handover printed $(cat "$WORK/handover.out")"
grep -q "publishes channel $channel from version 2" "$WORK/handover.log" ||
    fail "handover said: $(cat "$WORK/handover.log")"

# The new key on its own directory: version 1 back from the subscriber, then
# version 2 with a file of its own.
publish new "$WORK/new" "$WORK/new.key" --handover "$WORK/site.handover"
NEW_PID=$LAST_PID
wait_for_line "$WORK/new.out" "recovered version 1: 2 files" 60
wait_for_line "$WORK/new.out" "publishing .* on port" 20
grep -q "^channel $channel" "$WORK/new.out" || fail "the new publisher's channel: $(cat "$WORK/new.out")"
echo "from the new key" >"$WORK/new/new.txt"
wait_for_line "$WORK/new.out" "published version 2: 3 files" 20
wait_for_line "$WORK/sub.out" "version 2 applied" 30
wait_same "$WORK/new" "$WORK/sub" 10

# The old key, started again, publishes nothing: it names the key that
# publishes now and exits non-zero; the subscriber stays at version 2.
echo "from the old key" >"$WORK/old/old.txt"
code=0
timeout 60 "$PEER" publish "$WORK/old" --key "$WORK/old.key" --tracker "$TRACKER_ADDR" \
    --host 127.0.0.1 --no-state --rescan 0.2 >"$WORK/old2.out" 2>"$WORK/old2.log" || code=$?
[[ $code -ne 0 && $code -ne 124 ]] || fail "the old key's publisher exited with $code"
grep -q "handed publishing of channel $channel over (from version 2); key $new_public publishes" \
    "$WORK/old2.log" || fail "the old key's publisher said: $(cat "$WORK/old2.log")"
grep -q "published version" "$WORK/old2.out" && fail "the old key published: $(cat "$WORK/old2.out")"

# The new publisher restarted without --handover: DIR remembers the channel.
kill -0 "$NEW_PID" || fail "the new publisher ended early"
kill "$NEW_PID"
wait "$NEW_PID" || fail "the new publisher exited with $?"
publish new2 "$WORK/new" "$WORK/new.key"
wait_for_line "$WORK/new2.out" "publishing .* on port" 30
grep -q "^channel $channel" "$WORK/new2.out" || fail "restarted: $(cat "$WORK/new2.out")"
echo "after the restart" >"$WORK/new/later.txt"
wait_for_line "$WORK/new2.out" "published version 3: 4 files" 20
wait_for_line "$WORK/sub.out" "version 3 applied" 30
wait_same "$WORK/new" "$WORK/sub" 10
[[ ! -e "$WORK/sub/old.txt" ]] || fail "the old key's file reached the subscriber"
kill -0 "$SUB_PID" || fail "the subscriber ended early"
echo "ok"
