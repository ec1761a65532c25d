#!/usr/bin/env bash
# What an operator sees, from the real binaries on loopback: `tracker --http`
# (status page, /metrics, /healthz, /api/*) and `peer --metrics` on a serving
# peer and on `get --serve`. The metrics pass `promtool check metrics` where
# Debian's prometheus package is installed (scripts/setup installs it).
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

# get URL: the body on stdout; fails unless the status is 200.
get() {
    curl -sS --max-time 20 -o "$WORK/body" -w '%{http_code}' "$1" >"$WORK/status" ||
        fail "curl $1 failed"
    [[ $(cat "$WORK/status") == 200 ]] || fail "$1: status $(cat "$WORK/status"): $(cat "$WORK/body")"
    cat "$WORK/body"
}
# metric TEXT NAME: the value of the sample NAME (with its labels, exactly).
metric() {
    awk -v n="$2" '$1 == n {print $2}' <<<"$1"
}
check_promtool() {
    if command -v promtool >/dev/null; then
        promtool check metrics <<<"$1" || fail "promtool: $2"
    else
        echo "promtool missing (apt-get install prometheus): not checked with it"
    fi
}
port_of() {  # port_of FILE PREFIX: the port on the line starting with PREFIX
    grep "^$2" "$1" | grep -o '127.0.0.1:[0-9]*' | head -n 1 | cut -d: -f2
}

name="<i>&'x'.bin"
mkdir -p "$WORK/a" "$WORK/out"
head -c $((3 << 20)) /dev/urandom >"$WORK/a/$name"

start_tracker --http 127.0.0.1:0
wait_for_line "$WORK/tracker.out" "tracker http on"
T="http://127.0.0.1:$(port_of "$WORK/tracker.out" "tracker http on")"

[[ $(get "$T/healthz") == ok ]] || fail "healthz: $(cat "$WORK/body")"

start_serve a "$WORK/a" --metrics 127.0.0.1:0
A="http://127.0.0.1:$(port_of "$WORK/a.out" "metrics on")"
[[ $(get "$A/healthz") == ok ]] || fail "peer healthz: $(cat "$WORK/body")"

# The file is listed once the serving peer announced it (bounded wait).
for ((i = 0; i < 100; i++)); do
    files=$(get "$T/api/files")
    python3 -c 'import json,sys; f=json.load(sys.stdin)["files"]; sys.exit(0 if f and f[0]["complete"] == 1 else 1)' <<<"$files" && break
    sleep 0.1
done
python3 -c '
import json, sys
j = json.load(sys.stdin)
f = j["files"][0]
assert j["more"] is False
assert f["name"] == sys.argv[1], f
assert f["size"] == 3 << 20 and f["holders"] == 1 and f["complete"] == 1 and f["partial"] == 0, f
assert len(f["id"]) == 64
' "$name" <<<"$files" || fail "api/files: $files"
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["files"][0]["id"])' <<<"$files")

# A second peer fetches it and keeps serving.
timeout 60 "$PEER" get "$id" --tracker "$TRACKER_ADDR" -o "$WORK/out" --serve --host 127.0.0.1 \
    --metrics 127.0.0.1:0 >"$WORK/b.out" 2>"$WORK/b.log" &
PIDS+=($!)
wait_for_line "$WORK/b.out" "verified" 60
cmp "$WORK/a/$name" "$WORK/out/$name" || fail "the downloaded file differs"
B="http://127.0.0.1:$(port_of "$WORK/b.out" "metrics on")"

mb=$(get "$B/metrics")
check_promtool "$mb" "peer get --serve"
[[ $(metric "$mb" seedshare_peer_downloaded_bytes_total) == $((3 << 20)) ]] ||
    fail "getter's downloaded bytes: $mb"
[[ $(metric "$mb" seedshare_peer_chunks_verified_total) -gt 0 ]] || fail "no chunk verified: $mb"
[[ $(metric "$mb" seedshare_peer_chunks_failed_total) == 0 ]] || fail "chunks failed: $mb"
[[ $(metric "$mb" seedshare_peer_swarms) == 1 ]] || fail "getter's swarms: $mb"
ma=$(get "$A/metrics")
check_promtool "$ma" "peer serve"
[[ $(metric "$ma" seedshare_peer_uploaded_bytes_total) == $((3 << 20)) ]] ||
    fail "server's uploaded bytes: $ma"

# Both hold it now: the peers of the file, and the page.
for ((i = 0; i < 100; i++)); do
    peers=$(get "$T/api/peers?seed=$id")
    python3 -c 'import json,sys; sys.exit(0 if len(json.load(sys.stdin)["peers"]) == 2 else 1)' <<<"$peers" && break
    sleep 0.1
done
python3 -c 'import json,sys; p=json.load(sys.stdin)["peers"]; assert len(p) == 2 and all(x["address"] == "127.0.0.1" and x["complete"] for x in p), p' <<<"$peers" ||
    fail "api/peers: $peers"

page=$(get "$T/")
grep -qF "&lt;i&gt;&amp;&#39;x&#39;.bin" <<<"$page" || fail "the page does not show the escaped name"
grep -qF "<i>&'x'" <<<"$page" && fail "the page shows the file name unescaped"
grep -q "peers online" <<<"$page" || fail "no peers online on the page"

mt=$(get "$T/metrics")
check_promtool "$mt" "tracker"
[[ $(metric "$mt" 'seedshare_tracker_requests_total{type="Join"}') -ge 2 ]] || fail "joins: $mt"
[[ $(metric "$mt" seedshare_tracker_peers_online) == 2 ]] || fail "peers online: $mt"
[[ $(metric "$mt" seedshare_tracker_up) == 1 ]] || fail "up: $mt"
[[ $(get "$T/api/channels") == '{"channels":[],"more":false}' ]] || fail "channels: $(cat "$WORK/body")"

# Not found, and a bad query.
code=$(curl -s -o /dev/null -w '%{http_code}' "$T/api/peers?seed=nothex")
[[ $code == 400 ]] || fail "a bad seed id: status $code"
echo "ok"
