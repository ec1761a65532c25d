#!/usr/bin/env bash
# Channels under faults with the real binaries on loopback (issue 14):
#  - `peer status DIR --verify` re-hashes DIR against the version applied:
#    exit 0 when clean, 5 listing every difference (edited, missing, extra);
#    `peer status` says when the channel was last heard.
#  - The publisher is SIGKILLed and its disk wiped: started again, it brings
#    the files back from the subscribers, says so, publishes nothing that
#    deletes them, and goes on from the channel's number.
#  - The publisher is SIGKILLed for good: a new subscriber still syncs to the
#    latest version from the other subscribers.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/site/docs"
head -c $((2 << 20)) /dev/urandom >"$WORK/site/big.bin"
echo "hello" >"$WORK/site/docs/hello.txt"
echo "about" >"$WORK/site/about.txt"
cp -r "$WORK/site" "$WORK/want"

start_tracker
channel=$("$PEER" keygen -o "$WORK/site.key" 2>/dev/null) || fail "keygen failed"
publish() {  # NAME: the publisher on site, its output in NAME.out / NAME.log
    "$PEER" publish "$WORK/site" --key "$WORK/site.key" --name site --tracker "$TRACKER_ADDR" \
        --host 127.0.0.1 --no-state --rescan 0.2 >"$WORK/$1.out" 2>"$WORK/$1.log" &
    PIDS+=($!)
    PUBLISHER_PID=$!
}
subscribe() {  # NAME
    "$PEER" subscribe "$channel" "$WORK/$1" --tracker "$TRACKER_ADDR" --host 127.0.0.1 \
        --rescan 0.2 >"$WORK/$1.out" 2>"$WORK/$1.log" &
    PIDS+=($!)
    LAST_PID=$!
}
publish publisher
wait_for_line "$WORK/publisher.out" "published version 1: 3 files"
subscribe sub1
SUB1_PID=$LAST_PID
subscribe sub2
wait_for_line "$WORK/sub1.out" "version 1 applied" 30
wait_for_line "$WORK/sub2.out" "version 1 applied" 30

# --verify on a clean copy; then sub1 stopped, edited (same size), a file
# deleted, one added: every difference listed, exit 5.
code=0
"$PEER" status "$WORK/sub1" --verify >"$WORK/verify.out" 2>"$WORK/verify.log" || code=$?
[[ $code -eq 0 ]] || fail "status --verify on a clean copy exited with $code: $(cat "$WORK/verify.out")"
grep -q "clean: 3 files" "$WORK/verify.out" || fail "verify: $(cat "$WORK/verify.out")"
grep -q "^heard .* ago" "$WORK/verify.out" || fail "no staleness line: $(cat "$WORK/verify.out")"
kill -0 "$SUB1_PID" || fail "sub1 ended early"
kill "$SUB1_PID"
wait "$SUB1_PID" || true
echo "HELLO" >"$WORK/sub1/docs/hello.txt"
rm "$WORK/sub1/about.txt"
echo "mine" >"$WORK/sub1/mine.txt"
code=0
"$PEER" status "$WORK/sub1" --verify >"$WORK/verify.out" 2>"$WORK/verify.log" || code=$?
[[ $code -eq 5 ]] || fail "status --verify on an edited copy exited with $code: $(cat "$WORK/verify.out")"
grep -q "3 differences from version 1" "$WORK/verify.out" || fail "verify: $(cat "$WORK/verify.out")"
grep -q "edited  *docs/hello.txt" "$WORK/verify.out" || fail "verify: $(cat "$WORK/verify.out")"
grep -q "missing  *about.txt" "$WORK/verify.out" || fail "verify: $(cat "$WORK/verify.out")"
grep -q "extra  *mine.txt" "$WORK/verify.out" || fail "verify: $(cat "$WORK/verify.out")"
code=0
"$PEER" status "$WORK/nowhere" --verify >"$WORK/verify.out" 2>"$WORK/verify.log" || code=$?
[[ $code -ne 0 && $code -ne 5 ]] || fail "status --verify of no channel directory exited with $code"

# The publisher is SIGKILLed and its disk wiped; started again it recovers
# version 1 from sub2 before anything else.
kill -0 "$PUBLISHER_PID" || fail "the publisher ended early"
kill -KILL "$PUBLISHER_PID"
wait "$PUBLISHER_PID" 2>/dev/null || true
rm -rf "$WORK/site"
mkdir "$WORK/site"
publish publisher2
wait_for_line "$WORK/publisher2.out" "recovered version 1: 3 files" 60
wait_for_line "$WORK/publisher2.out" "publishing .* on port" 20
grep -q "but the channel is at version 1" "$WORK/publisher2.log" || fail "the log does not say it recovers"
! grep -q "published version" "$WORK/publisher2.out" || fail "it published: $(cat "$WORK/publisher2.out")"
same_tree "$WORK/want" "$WORK/site" || fail "the recovered site differs"
"$PEER" status "$WORK/site" --verify >"$WORK/verify.out" 2>"$WORK/verify.log" ||
    fail "status --verify of the recovered site exited with $?: $(cat "$WORK/verify.out")"
same_tree "$WORK/want" "$WORK/sub2" || fail "sub2 lost files"

# Publishing goes on from version 1, with every file.
echo "new" >"$WORK/site/new.txt"
cp "$WORK/site/new.txt" "$WORK/want/new.txt"
wait_for_line "$WORK/publisher2.out" "published version 2: 4 files" 20
wait_for_line "$WORK/sub2.out" "version 2 applied" 30
same_tree "$WORK/want" "$WORK/sub2" || fail "sub2 differs after version 2"

# The publisher vanishes for good: a new subscriber syncs from sub2.
kill -0 "$PUBLISHER_PID" || fail "the publisher ended early"
kill -KILL "$PUBLISHER_PID"
wait "$PUBLISHER_PID" 2>/dev/null || true
timeout 90 "$PEER" subscribe "$channel" "$WORK/late" --tracker "$TRACKER_ADDR" --host 127.0.0.1 \
    --once >"$WORK/late.out" 2>"$WORK/late.log" || fail "subscribe --once exited with $?"
grep -q "version 2 applied" "$WORK/late.out" || fail "late: $(cat "$WORK/late.out")"
same_tree "$WORK/want" "$WORK/late" || fail "late differs"
echo "ok"
