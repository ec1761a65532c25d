#!/usr/bin/env bash
# A tracker cluster: two trackers on one etcd member share one peer table
# (`peer list` at either shows what peers told the other), tell peers the
# cluster's addresses when they join, and one of them leads. The tracker the
# peers joined (the only one their seed names) is killed with SIGKILL during
# a download: every peer moves to the other tracker without a new identity,
# the download completes, and the other tracker takes over the leadership;
# its status page (--http: the HTML page and /api/cluster) names the leader.
# Skipped (77) without the etcd binary.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"
command -v etcd >/dev/null || { echo "etcd not installed: skipped"; exit 77; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cport=$(free_port)
pport=$(free_port)
mkdir -p "$WORK/etcd"
etcd --name e2e --data-dir "$WORK/etcd" \
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "e2e=http://127.0.0.1:$pport" --log-level error >"$WORK/etcd.out" 2>"$WORK/etcd.log" &
PIDS+=($!)
ETCD="http://127.0.0.1:$cport"
for ((i = 0; i < 200; i++)); do
    curl -sf "$ETCD/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "$ETCD/health" >/dev/null || fail "etcd did not start"

ttl=6
# start_cluster_tracker NAME [ARGS...]: sets <NAME>_ADDR and <NAME>_PID.
start_cluster_tracker() {
    local name=$1 port
    shift
    "$TRACKER" --port 0 --host 127.0.0.1 --etcd "$ETCD" --cluster-name e2e --ttl "$ttl" "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.log" &
    PIDS+=($!)
    printf -v "${name}_PID" %s $!
    wait_for_line "$WORK/$name.out" "listening"
    port=$(grep -o '127.0.0.1:[0-9]*' "$WORK/$name.out" | head -n 1 | cut -d: -f2)
    [[ -n "$port" ]] || fail "no port in: $(cat "$WORK/$name.out")"
    printf -v "${name}_ADDR" %s "127.0.0.1:$port"
}
start_cluster_tracker ta
start_cluster_tracker tb --http 127.0.0.1:0
wait_for_line "$WORK/tb.out" "tracker http on" 10
TB_HTTP=$(grep -o 'tracker http on [0-9.]*:[0-9]*' "$WORK/tb.out" | awk '{print $4}')
[[ -n "$TB_HTTP" ]] || fail "no http address in: $(cat "$WORK/tb.out")"
wait_for_line "$WORK/tb.log" "2 trackers" 10
wait_for_line "$WORK/ta.log" "is the leader" 10
grep -q "the leader is $ta_ADDR" "$WORK/tb.log" || fail "tb does not name ta as the leader"
# leader_at: the leader /api/cluster of tb names.
leader_at() {
    curl -sf "http://$TB_HTTP/api/cluster" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cluster"]["leader"])'
}
# wait_for_leader ADDR: until /api/cluster at tb names ADDR (bounded: 5 s).
wait_for_leader() {
    local i
    for ((i = 0; i < 50; i++)); do
        [[ "$(leader_at)" == "$1" ]] && return 0
        sleep 0.1
    done
    fail "tb's /api/cluster does not name $1: $(curl -s "http://$TB_HTTP/api/cluster")"
}
wait_for_leader "$ta_ADDR"
curl -sf "http://$TB_HTTP/" | grep -q "id=\"leader\">$ta_ADDR<" || fail "tb's status page does not name ta as the leader"

mkdir -p "$WORK/a" "$WORK/b" "$WORK/out"
size=$((48 << 20))
head -c "$size" /dev/urandom >"$WORK/a/data.bin"
cp "$WORK/a/data.bin" "$WORK/b/data.bin"
"$PEER" make-seed "$WORK/a/data.bin" -o "$WORK/data.seed" --tracker "$ta_ADDR" >/dev/null
TRACKER_ADDR=$ta_ADDR
start_serve a "$WORK/a" --max-upload-rate 8M
start_serve b "$WORK/b" --max-upload-rate 8M

# holders ADDR: the HOLDERS column of `peer list` at ADDR for data.bin.
holders() {
    "$PEER" list --tracker "$1" 2>/dev/null |
        awk '$1 == "data.bin"' | grep -o '[0-9]* ([0-9]* complete)' || true
}
wait_for_holders() {
    local addr=$1 want=$2 limit=$3 i
    for ((i = 0; i < limit * 10; i++)); do
        [[ "$(holders "$addr")" == "$want" ]] && return 0
        sleep 0.1
    done
    fail "peer list at $addr did not show '$want' within ${limit}s (last: '$(holders "$addr")')"
}
# The peers joined ta only; tb answers the same.
wait_for_holders "$tb_ADDR" "2 (2 complete)" 20
wait_for_holders "$ta_ADDR" "2 (2 complete)" 5

"$PEER" get "$WORK/data.seed" -o "$WORK/out" --serve --host 127.0.0.1 --log-level debug \
    >"$WORK/get.out" 2>"$WORK/get.log" &
PIDS+=($!)
wait_for_holders "$tb_ADDR" "3 (2 complete)" 30
[[ ! -e "$WORK/out/data.bin" ]] || fail "the download finished before the tracker was killed"

kill -0 "$ta_PID" || fail "tracker ta was not running"
kill -9 "$ta_PID"
{ wait "$ta_PID"; } 2>/dev/null || true
killed=$(date +%s%N)
echo "tracker ta killed with the download under way"

wait_for_line "$WORK/get.out" "whole-file SHA-256 verified" 120
cmp "$WORK/a/data.bin" "$WORK/out/data.bin" || fail "the downloaded file differs"
grep -q "moving to tracker $tb_ADDR" "$WORK/get.log" || fail "the getter did not move to tb"
grep -q "kept its token" "$WORK/get.log" || fail "the getter did not keep its identity"
# Every peer is served by tb: the getter now complete.
wait_for_holders "$tb_ADDR" "3 (3 complete)" 20
served_ms=$((($(date +%s%N) - killed) / 1000000))
wait_for_line "$WORK/tb.log" "this tracker ($tb_ADDR) is the leader" 15
wait_for_leader "$tb_ADDR"
curl -sf "http://$TB_HTTP/" | grep -q "id=\"leader\">$tb_ADDR</b> (this tracker)" ||
    fail "tb's status page does not say it leads"
echo "after ta was killed: every peer at tb within ${served_ms} ms, tb leads"
echo "ok"
