#!/usr/bin/env bash
# `peer get --serve`: a SIGTERM sent the moment the file appears (while the
# download is being wrapped up and serving begins) stops the process; it is
# never lost. (The swarm benchmark found one such getter serving on after
# SIGTERM: the download's signal set was replaced by a new one for serving.)
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/a"
head -c $((1 << 20)) /dev/urandom >"$WORK/a/data.bin"
start_tracker
"$PEER" make-seed "$WORK/a/data.bin" -o "$WORK/data.seed" --tracker "$TRACKER_ADDR" >/dev/null
start_serve a "$WORK/a"

rounds=20
for ((r = 0; r < rounds; r++)); do
    out="$WORK/out$r"
    mkdir -p "$out"
    "$PEER" get "$WORK/data.seed" -o "$out" --serve --no-state --host 127.0.0.1 \
        >"$WORK/get$r.out" 2>"$WORK/get$r.log" &
    pid=$!
    PIDS+=("$pid")
    # The moment the file is there (at most 30 s).
    for ((i = 0; i < 6000; i++)); do
        [[ -e "$out/data.bin" ]] && break
        kill -0 "$pid" 2>/dev/null || fail "round $r: get exited before the file was there"
        sleep 0.005
    done
    [[ -e "$out/data.bin" ]] || fail "round $r: no file within 30 s"
    kill -0 "$pid" 2>/dev/null || fail "round $r: get --serve was not running when signalled"
    kill -TERM "$pid"
    # It must end by itself; 20 s is a bound on a hang, not a timing.
    for ((i = 0; i < 400; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        fail "round $r: get --serve still running 20 s after SIGTERM: $(tail -n 3 "$WORK/get$r.log")"
    fi
    rc=0
    wait "$pid" || rc=$?
    [[ $rc -eq 0 ]] || fail "round $r: get exited with $rc after SIGTERM"
    cmp -s "$WORK/a/data.bin" "$out/data.bin" || fail "round $r: the file differs"
done
echo "ok: $rounds rounds, every SIGTERM obeyed"
