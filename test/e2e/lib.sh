# Helpers for the end-to-end tests of the real binaries. Source it after
# setting BUILD (the build directory). Every process started here is
# recorded and ended by its PID on exit; nothing else is touched.
set -euo pipefail

PEER="$BUILD/peer/peer"
TRACKER="$BUILD/tracker/tracker"
WORK=$(mktemp -d /tmp/seedshare-e2e.XXXXXX)
# The address book (and other state) of every peer here: never the user's.
export XDG_STATE_HOME="$WORK/state"
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$WORK"/*.log; do [[ -f "$f" ]] && { echo "--- $f"; tail -n 20 "$f"; } >&2; done
    exit 1
}

# wait_for_line FILE PATTERN [SECONDS]: until FILE has a line matching PATTERN.
wait_for_line() {
    local file=$1 pattern=$2 limit=${3:-20} i
    for ((i = 0; i < limit * 20; i++)); do
        grep -q -- "$pattern" "$file" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "no line matching '$pattern' in $file within ${limit}s"
}

# same_tree DIR_A DIR_B: the same files and contents, leaving out what
# SAME_TREE_EXCLUDES names (diff -x patterns; a script may set its own).
SAME_TREE_EXCLUDES=(-x .seedshare)
same_tree() {
    diff -r "${SAME_TREE_EXCLUDES[@]}" "$1" "$2" >/dev/null
}

# wait_same DIR_A DIR_B SECONDS: until same_tree holds; else the differences, and fail.
wait_same() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        same_tree "$1" "$2" && return 0
        sleep 0.1
    done
    diff -r "${SAME_TREE_EXCLUDES[@]}" "$1" "$2" >&2 || true
    fail "$2 did not become $1 within $3 s"
}

# start_tracker: starts a tracker on an ephemeral port; sets TRACKER_ADDR.
start_tracker() {
    "$TRACKER" --port 0 --host 127.0.0.1 --db "$WORK/tracker.db" "$@" >"$WORK/tracker.out" 2>"$WORK/tracker.log" &
    PIDS+=($!)
    TRACKER_PID=$!
    wait_for_line "$WORK/tracker.out" "listening"
    local port
    port=$(grep -o '127.0.0.1:[0-9]*' "$WORK/tracker.out" | head -n 1 | cut -d: -f2)
    [[ -n "$port" ]] || fail "no port in: $(cat "$WORK/tracker.out")"
    TRACKER_ADDR="127.0.0.1:$port"
}

# start_serve NAME DIR [ARGS...]: a serving peer; waits until it shares.
start_serve() {
    local name=$1 dir=$2
    shift 2
    "$PEER" serve "$dir" --tracker "$TRACKER_ADDR" --host 127.0.0.1 --no-state "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.log" &
    PIDS+=($!)
    wait_for_line "$WORK/$name.out" "serving"
}
