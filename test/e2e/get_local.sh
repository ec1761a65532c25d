#!/usr/bin/env bash
# `peer get` with nothing (or nobody) to fetch from:
# - a file already complete, a complete NAME.part, an empty file: done
#   locally, exit 0, with no tracker reachable;
# - the seed on standard input (`-`), -o DIR created, --json, --quiet;
# - nobody holds the file: it says it is waiting, --timeout gives up (exit 1),
#   and neither that nor Ctrl-C leaves an empty full-size NAME.part behind;
# - an unrelated NAME.part is not taken over without --force;
# - --force when NAME is a directory is refused before the first byte.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

head -c $((3 << 20)) /dev/urandom >"$WORK/f"
: >"$WORK/empty"
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$PEER" make-seed "$WORK/f" -o "$WORK/f.seed" --tracker "127.0.0.1:$dead_port" >/dev/null
"$PEER" make-seed "$WORK/empty" -o "$WORK/empty.seed" --tracker "127.0.0.1:$dead_port" >/dev/null
id=$(awk '$1 == "sha256" {print $2}' "$WORK/f.seed")
[[ -n "$id" ]] || fail "no sha256 line in the seed"

run() {  # run NAME CODE COMMAND...: runs it (time-limited), expects CODE
    local name=$1 code=$2 rc=0
    shift 2
    timeout 60 "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" || rc=$?
    [[ $rc -eq $code ]] || fail "$name: exited $rc, expected $code: $(cat "$WORK/$name.log")"
}

# Complete already, no tracker: exit 0.
mkdir -p "$WORK/done"
cp "$WORK/f" "$WORK/done/f"
run done 0 "$PEER" get "$WORK/f.seed" -o "$WORK/done"
grep -q "already complete" "$WORK/done.out" || fail "done: $(cat "$WORK/done.out")"

# A complete .part without its trailer (stopped just before the rename), and
# the seed on standard input, into a directory that does not exist yet.
mkdir -p "$WORK/part"
cp "$WORK/f" "$WORK/part/f.part"
run part 0 "$PEER" get - -o "$WORK/part" <"$WORK/f.seed"
cmp "$WORK/f" "$WORK/part/f" || fail "part: wrong bytes"
[[ ! -e "$WORK/part/f.part" ]] || fail "part: f.part left behind"
run newdir 0 "$PEER" get "$WORK/empty.seed" -o "$WORK/new/sub" --quiet
[[ -f "$WORK/new/sub/empty" && ! -s "$WORK/new/sub/empty" ]] || fail "newdir: no empty file"
[[ ! -s "$WORK/newdir.log" ]] || fail "--quiet wrote to stderr: $(cat "$WORK/newdir.log")"

# --json: one object, stable keys; a usage error too.
run jsonbad 2 "$PEER" get "$WORK/nope.seed" --json
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["outcome"]=="usage" and j["exit_code"]==2 and j["error"], j' \
    "$WORK/jsonbad.out" || fail "jsonbad: $(cat "$WORK/jsonbad.out")"
# --json: one object, stable keys.
run json 0 "$PEER" get "$WORK/f.seed" -o "$WORK/done" --json
python3 - "$WORK/json.out" "$WORK/f" <<'PY' || fail "json: $(cat "$WORK/json.out")"
import json, sys, hashlib
j = json.load(open(sys.argv[1]))
want = hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
assert j["outcome"] == "already_complete" and j["exit_code"] == 0 and j["verified"] is True, j
assert j["sha256"] == want and j["size"] == 3 << 20 and j["name"] == "f", j
for key in ("file", "id", "seconds", "error", "resumed_bytes", "fetched_bytes", "peers"):
    assert key in j, key
PY

# Nobody holds it: a tracker that knows no holder.
start_tracker
"$PEER" make-seed "$WORK/f" -o "$WORK/g.seed" --tracker "$TRACKER_ADDR" >/dev/null
mkdir -p "$WORK/wait"
run wait 1 "$PEER" get "$WORK/g.seed" -o "$WORK/wait" --host 127.0.0.1 --timeout 12
grep -q "waiting for a peer that holds f" "$WORK/wait.log" || fail "wait: not said: $(cat "$WORK/wait.log")"
grep -q "not done within the time limit" "$WORK/wait.log" || fail "wait: $(cat "$WORK/wait.log")"
[[ -z "$(ls -A "$WORK/wait")" ]] || fail "wait: left behind: $(ls -A "$WORK/wait")"

# The same, interrupted: exit 130 and nothing left.
"$PEER" get "$WORK/g.seed" -o "$WORK/wait" --host 127.0.0.1 >"$WORK/int.out" 2>"$WORK/int.log" &
pid=$!
PIDS+=($pid)
wait_for_line "$WORK/int.log" "fetching f"
kill -0 "$pid" 2>/dev/null || fail "int: the get was not running any more"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[[ $rc -eq 130 ]] || fail "int: exited $rc: $(cat "$WORK/int.log")"
[[ -z "$(ls -A "$WORK/wait")" ]] || fail "int: left behind: $(ls -A "$WORK/wait")"

# An unrelated f.part (not ours): refused, untouched, without --force.
mkdir -p "$WORK/foreign"
head -c 1000 /dev/urandom >"$WORK/foreign/f.part"
cp "$WORK/foreign/f.part" "$WORK/foreign.copy"
run foreign 1 "$PEER" get "$WORK/g.seed" -o "$WORK/foreign" --host 127.0.0.1 --timeout 30
grep -q "has no seedshare trailer for this seed.*--force" "$WORK/foreign.log" ||
    fail "foreign: $(cat "$WORK/foreign.log")"
cmp "$WORK/foreign/f.part" "$WORK/foreign.copy" || fail "foreign: f.part was changed"

# --force when NAME is a directory: refused at once, nothing fetched or made.
mkdir -p "$WORK/dir/f"
run dir 1 "$PEER" get "$WORK/g.seed" -o "$WORK/dir" --force --host 127.0.0.1 --timeout 30
grep -q "is a directory" "$WORK/dir.log" || fail "dir: $(cat "$WORK/dir.log")"
[[ "$(ls -A "$WORK/dir")" == "f" ]] || fail "dir: left behind: $(ls -A "$WORK/dir")"
echo "ok"
