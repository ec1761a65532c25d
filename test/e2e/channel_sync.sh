#!/usr/bin/env bash
# Channels with the real binaries on loopback: a tracker, a publisher, two
# subscribers. First sync, then an edit, an addition, a rename and a
# deletion reach both; a one-chunk edit of a big file moves about one chunk;
# a subscriber's local edit is restored with the edited copy kept aside and
# its own extra file left alone; a late `subscribe --once` goes straight to
# the latest version; `peer status` and `peer list --channels` say where
# things stand.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"
# The subscribers' asides and local file are theirs, not the channel's.
SAME_TREE_EXCLUDES=(-x .seedshare -x '*.seedshare-*' -x mine.txt)

mkdir -p "$WORK/site/docs" "$WORK/sub1" "$WORK/sub2"
head -c $((4 << 20)) /dev/urandom >"$WORK/site/big.bin"  # 16 chunks of 256 KiB
echo "hello" >"$WORK/site/docs/hello.txt"
echo "about" >"$WORK/site/about.txt"

start_tracker
"$PEER" keygen -o "$WORK/site.key" >"$WORK/keygen.out" 2>"$WORK/keygen.log" || fail "keygen exited with $?"
channel=$(cat "$WORK/keygen.out")
[[ "$channel" =~ ^[0-9a-f]{64}$ ]] || fail "keygen printed '$channel', not a channel id"

"$PEER" publish "$WORK/site" --key "$WORK/site.key" --name site --tracker "$TRACKER_ADDR" \
    --host 127.0.0.1 --no-state --rescan 0.2 >"$WORK/publisher.out" 2>"$WORK/publisher.log" &
PIDS+=($!)
PUBLISHER_PID=$!
wait_for_line "$WORK/publisher.out" "published version 1: 3 files"

for s in sub1 sub2; do
    "$PEER" subscribe "$channel" "$WORK/$s" --tracker "$TRACKER_ADDR" --host 127.0.0.1 \
        --rescan 0.2 >"$WORK/$s.out" 2>"$WORK/$s.log" &
    PIDS+=($!)
done
wait_for_line "$WORK/sub1.out" "version 1 applied" 30
wait_for_line "$WORK/sub2.out" "version 1 applied" 30
wait_same "$WORK/site" "$WORK/sub1" 10
wait_same "$WORK/site" "$WORK/sub2" 10

# A one-chunk edit of big.bin, an addition, a rename, a deletion.
printf 'X' | dd of="$WORK/site/big.bin" bs=1 seek=$((3 << 20)) conv=notrunc status=none
echo "new" >"$WORK/site/docs/new.txt"
mv "$WORK/site/about.txt" "$WORK/site/docs/about.txt"
rm "$WORK/site/docs/hello.txt"
wait_for_line "$WORK/publisher.out" "published version 2" 20
wait_same "$WORK/site" "$WORK/sub1" 30
wait_same "$WORK/site" "$WORK/sub2" 30
[[ ! -e "$WORK/sub1/about.txt" && ! -e "$WORK/sub1/docs/hello.txt" ]] || fail "deleted files remain"
# Only the edited chunk crossed the network for big.bin (the rest was copied
# from the old version): at most 2 chunks per subscriber for this version.
for s in sub1 sub2; do
    line=$(grep "version 2 applied" "$WORK/$s.out" | tail -n 1)
    net=$(sed -n 's/.* \([0-9]*\) from the network.*/\1/p' <<<"$line")
    [[ -n "$net" && "$net" -le 2 ]] || fail "$s fetched '$net' chunks for version 2: $line"
done

# A local edit and a local extra file on sub1: the edit is restored, the
# edited copy kept aside, the extra file left alone and not published.
echo "mine" >"$WORK/sub1/mine.txt"
echo "scribble" >>"$WORK/sub1/docs/new.txt"
wait_same "$WORK/site" "$WORK/sub1" 20
ls "$WORK/sub1/docs/" | grep -q '^new.txt.seedshare-edited-' || fail "the edited copy was not kept aside: $(ls "$WORK/sub1/docs")"
grep -q scribble "$WORK"/sub1/docs/new.txt.seedshare-edited-* || fail "the aside copy lost the edit"
[[ -f "$WORK/sub1/mine.txt" ]] || fail "the subscriber's own file was touched"
grep -q "docs/new.txt was edited here" "$WORK/sub1.log" || fail "no warning names the edited file"

# A late subscriber with --once goes straight to the latest version and exits.
timeout 60 "$PEER" subscribe "$channel" "$WORK/late" --tracker "$TRACKER_ADDR" --host 127.0.0.1 \
    --once >"$WORK/late.out" 2>"$WORK/late.log" || fail "subscribe --once exited with $?"
grep -q "version 2 applied" "$WORK/late.out" || fail "late: $(cat "$WORK/late.out")"
! grep -q "version 1 applied" "$WORK/late.out" || fail "late went through version 1"
same_tree "$WORK/site" "$WORK/late" || fail "late differs from the publisher"

"$PEER" status "$WORK/sub2" --tracker "$TRACKER_ADDR" >"$WORK/status.out" 2>"$WORK/status.log" ||
    fail "status exited with $?"
grep -q "applied    version 2" "$WORK/status.out" || fail "status: $(cat "$WORK/status.out")"
grep -q "up to date" "$WORK/status.out" || fail "status: $(cat "$WORK/status.out")"
"$PEER" list --channels --tracker "$TRACKER_ADDR" >"$WORK/list.out" 2>"$WORK/list.log" ||
    fail "list exited with $?"
grep -q "^site  *2  *3 " "$WORK/list.out" || fail "list --channels: $(cat "$WORK/list.out")"

kill -0 "$PUBLISHER_PID" || fail "the publisher is no longer running"
echo "ok"
