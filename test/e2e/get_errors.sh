#!/usr/bin/env bash
# `peer get` failures a user meets: one line, the documented exit code.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

expect() {  # expect CODE NEEDLE -- COMMAND...
    local code=$1 needle=$2
    shift 3
    local rc=0
    "$@" >"$WORK/x.out" 2>"$WORK/x.err" || rc=$?
    [[ $rc -eq $code ]] || fail "'$*' exited with $rc, expected $code: $(cat "$WORK/x.err")"
    [[ $(wc -l <"$WORK/x.err") -eq 1 ]] || fail "'$*' wrote more than one line: $(cat "$WORK/x.err")"
    grep -q -- "$needle" "$WORK/x.err" || fail "'$*' said '$(cat "$WORK/x.err")', expected '$needle'"
}

head -c 100000 /dev/urandom >"$WORK/f"
# A port nobody listens on: bind one, close it.
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$PEER" make-seed "$WORK/f" -o "$WORK/f.seed" --tracker "127.0.0.1:$dead_port" >/dev/null

mkdir -p "$WORK/out"
expect 3 "cannot reach tracker 127.0.0.1:$dead_port" -- timeout 30 "$PEER" get "$WORK/f.seed" -o "$WORK/out"
expect 2 "not a seed file (no such file), and not a seed id" -- "$PEER" get "$WORK/missing.seed"
expect 2 "not a seed id (65 characters, not 64)" -- "$PEER" get "$(printf 'a%.0s' {1..65})"
expect 2 "'g' is not a hex digit" -- "$PEER" get "$(printf 'g%.0s' {1..64})"
expect 1 "not a seedshare seed" -- "$PEER" get "$WORK/f"
expect 2 "not a directory" -- "$PEER" get "$WORK/f.seed" -o "$WORK/f"
expect 2 "--port" -- "$PEER" get "$WORK/f.seed" --port 70000
expect 2 "--tracker" -- "$PEER" get "$WORK/f.seed" --tracker nope
printf 'seedshare-seed 1\nname ../escape\n' >"$WORK/evil.seed"
expect 1 "path separator" -- "$PEER" get "$WORK/evil.seed" -o "$WORK/out"
[[ -z "$(ls -A "$WORK/out")" ]] || fail "files were created: $(ls -A "$WORK/out")"
expect 2 "not a directory" -- "$PEER" serve "$WORK/nodir"
echo "ok"
