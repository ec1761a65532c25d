#!/usr/bin/env bash
# Real binaries on loopback: `peer backup`'s first SIGTERM stops it in
# order; with the tracker frozen (SIGSTOP) that stop waits on its Leave, and
# a second SIGTERM then ends the process at once, exit code 130, saying so.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

start_tracker --ttl 600
"$PEER" backup "$WORK/bk" --tracker "$TRACKER_ADDR" --host 127.0.0.1 --no-state --poll 0.2 \
    >"$WORK/bk.out" 2>"$WORK/bk.log" &
PIDS+=($!)
backup_pid=$!
wait_for_line "$WORK/bk.out" "backup of"

kill -0 "$TRACKER_PID" || fail "the tracker was not running"
kill -STOP "$TRACKER_PID"
trap 'kill -CONT "$TRACKER_PID" 2>/dev/null || true; cleanup' EXIT
kill -0 "$backup_pid" || fail "the backup was not running"
kill -TERM "$backup_pid"
# The ordered stop reaches the trackers' Leave, which the frozen tracker
# never answers (each bounded by the request timeout, 10 s).
wait_for_line "$WORK/bk.log" "leaving: finishing uploads" 60
kill -0 "$backup_pid" || fail "the backup ended before the second signal"
kill -TERM "$backup_pid"
rc=0
wait "$backup_pid" || rc=$?
kill -CONT "$TRACKER_PID"
[[ $rc -eq 130 ]] || fail "the second signal: exit code $rc, not 130"
grep -q "interrupted again: exiting now" "$WORK/bk.log" || fail "no line saying why it exits"
echo "ok"
