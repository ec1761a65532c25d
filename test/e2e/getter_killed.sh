#!/usr/bin/env bash
# Faults: `peer get` killed with SIGKILL at random points, several rounds,
# restarted each time. The final file is byte-identical; every restart
# resumes from at least what the one before had verified; and the last run
# fetches only what was missing (its summary's "fetched" is at most the
# missing chunks plus a little end-game slack).
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

seed=${SEEDSHARE_TEST_SEED:-$RANDOM}
RANDOM=$seed
echo "random seed $seed (SEEDSHARE_TEST_SEED=$seed reproduces the kill points)"

mkdir -p "$WORK/a" "$WORK/out"
# A serving peer with an upload limit makes each run last a few seconds;
# without that option, a bigger file does.
size=$((96 << 20))
rate=()
max_delay_ms=700
if "$PEER" serve --help | grep -q -- --max-upload-rate; then
    rate=(--max-upload-rate 24M)
else
    size=$((256 << 20))
    max_delay_ms=250
fi
head -c "$size" /dev/urandom >"$WORK/a/data.bin"

start_tracker
"$PEER" make-seed "$WORK/a/data.bin" -o "$WORK/data.seed" --tracker "$TRACKER_ADDR" >/dev/null
chunk=$(awk '$1 == "chunk-size" {print $2}' "$WORK/data.seed")
chunks=$(awk '$1 == "chunks" {print $2}' "$WORK/data.seed")
start_serve a "$WORK/a" "${rate[@]}"

# resumed LOG: N from "resuming: N of M chunks verified" (empty if none).
resumed() { { grep -o 'resuming: [0-9]* of [0-9]*' "$1" || true; } | awk '{print $2}' | tail -n 1; }

kills=0
previous=0
killed_complete=0
for ((round = 1; round <= 8; round++)); do
    "$PEER" get "$WORK/data.seed" -o "$WORK/out" --host 127.0.0.1 \
        >"$WORK/get$round.out" 2>"$WORK/get$round.log" &
    pid=$!
    PIDS+=($pid)
    # A kill after the last chunk was written but before the rename leaves a
    # .part that verifies whole: the next run says "nothing to fetch".
    wait_for_line "$WORK/get$round.log" 'fetching data.bin\|nothing to fetch' 60
    delay_ms=$((20 + RANDOM % max_delay_ms))
    sleep "$(printf '0.%03d' "$delay_ms")"
    kill -9 "$pid" 2>/dev/null || true
    rc=0
    { wait "$pid"; } 2>/dev/null || rc=$?
    if [[ $rc -eq 0 ]]; then
        echo "round $round: finished before the kill ${delay_ms} ms in"
        break
    fi
    [[ $rc -eq 137 ]] || fail "round $round: get exited with $rc"
    if [[ -e "$WORK/out/data.bin" && ! -e "$WORK/out/data.bin.part" ]]; then
        # The kill came after the verified file was renamed into place, while
        # get was saying goodbye (trackers, address book): it had finished.
        echo "round $round: killed ${delay_ms} ms in, after the file was complete"
        killed_complete=1
        break
    fi
    kills=$((kills + 1))
    [[ -e "$WORK/out/data.bin.part" && ! -e "$WORK/out/data.bin" ]] ||
        fail "round $round: after the kill: $(ls "$WORK/out")"
    now=$(resumed "$WORK/get$round.log")
    if ((round > 1)); then
        [[ -n "$now" ]] || fail "round $round did not resume"
        ((now >= previous)) || fail "round $round resumed $now chunks, fewer than $previous before"
        previous=$now
    fi
    echo "round $round: killed ${delay_ms} ms into fetching, having resumed ${now:-0} of $chunks chunks"
done
((kills >= 3)) || fail "only $kills runs were killed mid-download; the file is fetched too fast"

# The last run, to the end.
if [[ ! -e "$WORK/out/data.bin" ]]; then
    timeout 120 "$PEER" get "$WORK/data.seed" -o "$WORK/out" --host 127.0.0.1 \
        >"$WORK/final.out" 2>"$WORK/final.log" || fail "the final get exited with $?"
    last_log="$WORK/final.log"
    last_out="$WORK/final.out"
else
    last_log="$WORK/get$round.log"
    last_out="$WORK/get$round.out"
fi
cmp "$WORK/a/data.bin" "$WORK/out/data.bin" || fail "the downloaded file differs"
[[ ! -e "$WORK/out/data.bin.part" ]] || fail "the .part file is still there"

have=$(resumed "$last_log")
[[ -n "$have" ]] || fail "the last run did not resume"
((have >= previous)) || fail "the last run resumed $have chunks, fewer than $previous before"
# "got data.bin: 96.00 MiB in 1.23 s (...), 40.25 MiB fetched, ...", or
# "..., nothing fetched (it was all here already), ..." when the last kill
# came after every chunk was verified, before the rename.
if grep -q 'nothing fetched' "$last_out"; then
    fetched=0
else
    fetched=$({ grep -o '[0-9.]* [KMG]*i*B fetched' "$last_out" || true; } |
        awk '{u = $2 == "B" ? 1 : $2 == "KiB" ? 1024 : $2 == "MiB" ? 1048576 : 1073741824;
              printf "%d\n", $1 * u}')
fi
if [[ -z "$fetched" && $killed_complete -eq 1 ]]; then
    echo "ok (the last run was killed after finishing, before its summary)"
    exit 0
fi
[[ -n "$fetched" ]] || fail "no summary: $(cat "$last_out")"
missing=$(((chunks - have) * chunk))
slack=$((4 * chunk + (1 << 20) / 100))  # end-game duplicates; the summary's rounding
echo "last run: resumed $have of $chunks chunks, fetched $fetched bytes, $missing were missing"
((fetched <= missing + slack)) ||
    fail "the last run fetched $fetched bytes, more than the $missing missing (+ $slack slack)"
((fetched > 0 || missing == 0)) || fail "nothing fetched although $missing bytes were missing"
echo "ok"
