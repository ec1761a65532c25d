#!/usr/bin/env bash
# Faults: the tracker is killed with SIGKILL during a swarm and restarted on
# the same port and database. The download carries on without it, and once
# it is back its answers are right again within one heartbeat, and stay
# right: the peers live when it stopped get a TTL from the restart (--ttl 6: a
# heartbeat every 2 s; a TTL of 3 s let a peer of the ASan build expire
# when the 2-core CI machine stalled it for 2 s).
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

ttl=6
heartbeat_ms=$((ttl * 1000 / 3))
# Time for `peer list` itself to start and ask, on a loaded machine.
margin_ms=1000

mkdir -p "$WORK/a" "$WORK/b" "$WORK/out"
# Serving peers with an upload limit make the download last a few seconds;
# without that option, a bigger file does.
size=$((64 << 20))
rate=()
if "$PEER" serve --help | grep -q -- --max-upload-rate; then
    rate=(--max-upload-rate 12M)
else
    size=$((256 << 20))
fi
head -c "$size" /dev/urandom >"$WORK/a/data.bin"
cp "$WORK/a/data.bin" "$WORK/b/data.bin"

start_tracker --ttl "$ttl"
port=${TRACKER_ADDR##*:}
"$PEER" make-seed "$WORK/a/data.bin" -o "$WORK/data.seed" --tracker "$TRACKER_ADDR" >/dev/null
start_serve a "$WORK/a" "${rate[@]}"
start_serve b "$WORK/b" "${rate[@]}"

# holders: the HOLDERS column of `peer list` for data.bin ("3 (2 complete)").
holders() {
    "$PEER" list --tracker "$TRACKER_ADDR" 2>/dev/null |
        awk '$1 == "data.bin"' | grep -o '[0-9]* ([0-9]* complete)' || true
}
# wait_for_holders TEXT SECONDS: until `peer list` shows TEXT.
wait_for_holders() {
    local want=$1 limit=$2 i
    for ((i = 0; i < limit * 20; i++)); do
        [[ "$(holders)" == "$want" ]] && return 0
        sleep 0.05
    done
    fail "peer list did not show '$want' holders within ${limit}s (last: '$(holders)')"
}

"$PEER" get "$WORK/data.seed" -o "$WORK/out" --serve --host 127.0.0.1 \
    >"$WORK/get.out" 2>"$WORK/get.log" &
PIDS+=($!)
# The getter verified a chunk (the tracker lists it as a partial holder).
wait_for_holders "3 (2 complete)" 30
[[ ! -e "$WORK/out/data.bin" ]] || fail "the download finished before the tracker was killed"

kill -9 "$TRACKER_PID"
{ wait "$TRACKER_PID"; } 2>/dev/null || true
echo "tracker killed with the download under way"

# The download carries on with the peers the getter knows.
wait_for_line "$WORK/get.out" "whole-file SHA-256 verified" 120
cmp "$WORK/a/data.bin" "$WORK/out/data.bin" || fail "the downloaded file differs"
grep -q "from 127.0.0.1" "$WORK/get.out" || fail "no bytes from the serving peers"

# Back on the same port and database.
"$TRACKER" --port "$port" --host 127.0.0.1 --db "$WORK/tracker.db" --ttl "$ttl" \
    >"$WORK/tracker2.out" 2>"$WORK/tracker2.log" &
TRACKER_PID=$!
PIDS+=($!)
wait_for_line "$WORK/tracker2.out" "listening on 127.0.0.1:$port" 20
restarted=$(date +%s%N)
grep -q "database $WORK/tracker.db" "$WORK/tracker2.out" || fail "not the same database"

# Within one heartbeat: all three hold the whole file (the getter finished
# while the tracker was away: only its rejoin can tell the tracker).
wait_for_holders "3 (3 complete)" 10
elapsed_ms=$((($(date +%s%N) - restarted) / 1000000))
echo "the tracker's answers were right ${elapsed_ms} ms after the restart (heartbeat ${heartbeat_ms} ms)"
((elapsed_ms <= heartbeat_ms + margin_ms)) ||
    fail "right only after ${elapsed_ms} ms, more than one heartbeat (${heartbeat_ms} ms) + ${margin_ms} ms"

# And it stays right: nobody expires while they heartbeat.
for ((i = 0; i < 2 * ttl; i++)); do
    sleep 0.5
    [[ "$(holders)" == "3 (3 complete)" ]] || fail "holders changed to '$(holders)'"
done
echo "ok"
