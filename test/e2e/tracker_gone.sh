#!/usr/bin/env bash
# Discovery with the tracker gone for good (issue 13): the tracker is killed
# while a getter is under way; a new getter that knows only that getter
# (--peer) completes, from the server it heard of by peer exchange too. The
# first getter's address book survives its restart and lets a get start with
# no tracker and no --peer; with no peer known at all, a get exits 3.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$WORK/a"
head -c $((8 << 20)) /dev/urandom >"$WORK/a/data.bin"
start_tracker
"$PEER" make-seed "$WORK/a/data.bin" -o "$WORK/data.seed" --tracker "$TRACKER_ADDR" >/dev/null
# A slow server: the getters are still at it when the next one arrives.
start_serve a "$WORK/a" --max-upload-rate 1M
a_port=$(grep -o 'on port [0-9]*' "$WORK/a.out" | awk '{print $3}')
[[ -n "$a_port" ]] || fail "no port in: $(cat "$WORK/a.out")"

# g1: from the tracker; keeps serving once complete; its own state directory.
g1_port=$(free_port)
"$PEER" get "$WORK/data.seed" -o "$WORK/out1" --serve --host 127.0.0.1 --port "$g1_port" \
    --state "$WORK/g1-state" --log-level debug >"$WORK/g1.out" 2>"$WORK/g1.log" &
G1_PID=$!
PIDS+=($G1_PID)
# Under way: connected to the server (one peer, below --min-peers: it asks it for more).
wait_for_line "$WORK/g1.log" "1 peer: asking them for more peers" 20
[[ ! -e "$WORK/out1/data.bin" ]] || fail "g1 finished before the tracker was killed"

# The tracker goes, for good (it was running until now).
kill -0 "$TRACKER_PID" || fail "the tracker was not running"
kill -9 "$TRACKER_PID"
{ wait "$TRACKER_PID"; } 2>/dev/null || true
echo "tracker killed"

# g2 knows only g1, and no tracker answers: it completes, and the server,
# which it heard of from g1 only, sent it data too.
timeout 120 "$PEER" get "$WORK/data.seed" -o "$WORK/out2" --host 127.0.0.1 --no-state \
    --peer "127.0.0.1:$g1_port" --json >"$WORK/g2.json" 2>"$WORK/g2.log" ||
    fail "g2 failed: $(cat "$WORK/g2.json")"
cmp "$WORK/a/data.bin" "$WORK/out2/data.bin" || fail "g2's file differs"
python3 - "$WORK/g2.json" "$a_port" <<'PY' || fail "g2 did not fetch from the server it heard of by exchange: $(cat "$WORK/g2.json")"
import json, sys
j = json.load(open(sys.argv[1]))
names = {p["address"]: p["downloaded"] for p in j["peers"]}
sys.exit(0 if names.get("127.0.0.1:" + sys.argv[2], 0) > 0 else 1)
PY
echo "g2 completed from peers it never heard of from a tracker"

# g1 completes, stops, and remembers the server in its address book.
wait_for_line "$WORK/g1.log" "serving .* on port" 60
kill -0 "$G1_PID" || fail "g1 was not running"
kill -TERM "$G1_PID"
wait "$G1_PID" || true
[[ -s "$WORK/g1-state/address-book.json" ]] || fail "g1 left no address book"
grep -q "\"127.0.0.1\",$a_port," "$WORK/g1-state/address-book.json" ||
    fail "g1's address book does not name the server: $(cat "$WORK/g1-state/address-book.json")"

# Restarted on the same state, with no tracker and no --peer: the book is enough.
timeout 120 "$PEER" get "$WORK/data.seed" -o "$WORK/out3" --host 127.0.0.1 \
    --state "$WORK/g1-state" >"$WORK/g3.out" 2>"$WORK/g3.log" || fail "the restarted get failed"
cmp "$WORK/a/data.bin" "$WORK/out3/data.bin" || fail "the restarted get's file differs"
grep -q "address book" "$WORK/g3.log" || fail "the restarted get did not say it used the address book"
echo "the address book survived a restart and started a get with no tracker"

# No tracker, no peer known: exit 3.
rc=0
timeout 60 "$PEER" get "$WORK/data.seed" -o "$WORK/out4" --host 127.0.0.1 --no-state \
    >"$WORK/g4.out" 2>"$WORK/g4.log" || rc=$?
[[ $rc -eq 3 ]] || fail "with no tracker and no peer, get exited $rc, not 3"
echo "PASS"
