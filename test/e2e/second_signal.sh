#!/usr/bin/env bash
# Real binaries on loopback: the first SIGTERM stops `peer backup`, `serve`,
# `publish` and `subscribe` in order; with the tracker frozen (SIGSTOP) that
# stop waits on the tracker (a request in flight, then the Leave, each
# bounded by the request timeout, 10 s or more), and a second SIGTERM then ends each
# process at once, exit code 130, saying so.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

start_tracker --ttl 600
mkdir -p "$WORK/site" "$WORK/shared"
head -c 100000 /dev/urandom >"$WORK/site/a.bin"
head -c 100000 /dev/urandom >"$WORK/shared/b.bin"
"$PEER" keygen -o "$WORK/site.key" >"$WORK/keygen.out" 2>"$WORK/keygen.log" || fail "keygen exited with $?"
channel=$(cat "$WORK/keygen.out")

declare -A pid
run_bg() {  # NAME ARGS...: starts `peer ARGS...` in the background
    local name=$1
    shift
    "$PEER" "$@" --tracker "$TRACKER_ADDR" --host 127.0.0.1 >"$WORK/$name.out" 2>"$WORK/$name.log" &
    PIDS+=($!)
    pid[$name]=$!
}
run_bg backup backup "$WORK/bk" --no-state --poll 0.2
run_bg serve serve "$WORK/shared" --no-state
run_bg publish publish "$WORK/site" --key "$WORK/site.key" --no-state --rescan 0.2
wait_for_line "$WORK/backup.out" "backup of"
wait_for_line "$WORK/serve.out" "serving"
wait_for_line "$WORK/publish.out" "published version 1"
run_bg subscribe subscribe "$channel" "$WORK/sub" --rescan 0.2
wait_for_line "$WORK/subscribe.out" "version 1 applied" 30

names=(backup serve publish subscribe)
kill -0 "$TRACKER_PID" || fail "the tracker was not running"
kill -STOP "$TRACKER_PID"
trap 'kill -CONT "$TRACKER_PID" 2>/dev/null || true; cleanup' EXIT
for n in "${names[@]}"; do
    kill -TERM "${pid[$n]}" 2>/dev/null || fail "$n was not running"
done
for n in "${names[@]}"; do
    # The first signal was taken: the ordered stop has begun.
    wait_for_line "$WORK/$n.log" "stopping: finishing what is in flight" 60
done
for n in "${names[@]}"; do
    kill -TERM "${pid[$n]}" 2>/dev/null ||
        fail "$n ended before the second signal: $(tail -n 3 "$WORK/$n.log")"
done
for n in "${names[@]}"; do
    rc=0
    wait "${pid[$n]}" || rc=$?
    [[ $rc -eq 130 ]] || fail "$n, the second signal: exit code $rc, not 130: $(tail -n 3 "$WORK/$n.log")"
    grep -q "interrupted again: exiting now" "$WORK/$n.log" || fail "$n: no line saying why it exits"
done
kill -CONT "$TRACKER_PID"
echo "ok: ${names[*]}"
