"""Small helpers shared by the benchmark scripts (standard library only)."""

import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build")
PEER = os.path.join(BUILD, "peer", "peer")
TRACKER = os.path.join(BUILD, "tracker", "tracker")


def ensure_built(*setup_args):
    """Runs scripts/setup and scripts/build, as the README commands do."""
    subprocess.run([os.path.join(ROOT, "scripts", "setup"), *setup_args], check=True)
    subprocess.run([os.path.join(ROOT, "scripts", "build")], check=True,
                   stdout=subprocess.DEVNULL)


def timed(argv, **kwargs):
    """Runs argv to completion; returns wall seconds. Fails loudly on error."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - start


def make_random_file(path, size):
    """Writes `size` random bytes (reused if a file of that size is already there)."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    with open(path, "wb") as out:
        left = size
        while left:
            n = min(left, 4 << 20)
            out.write(os.urandom(n))
            left -= n


def warm(path):
    """Reads a file once so that it sits in the page cache."""
    with open(path, "rb") as f:
        while f.read(16 << 20):
            pass


def median(xs):
    return statistics.median(xs)


def say(*args):
    print(*args, flush=True)
    sys.stdout.flush()


class Procs:
    """Background processes this script started; ended by PID, never by name."""

    def __init__(self):
        self.procs = []

    def start(self, argv, **kwargs):
        p = subprocess.Popen(argv, **kwargs)
        self.procs.append(p)
        return p

    def stop_all(self, sig=None):
        import signal as _signal
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(sig or _signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []


def read_line_matching(proc, needle, timeout=30):
    """Reads proc.stdout lines until one contains `needle`; returns it."""
    import select
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.1)
        if not r:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            text = line.decode(errors="replace")
            if needle in text:
                return text
    raise RuntimeError(f"no line with {needle!r} from {proc.args[0]} within {timeout} s")


def start_tracker(procs, workdir, ttl=30):
    """Starts a tracker on an ephemeral loopback port; returns its port."""
    import re
    p = procs.start([TRACKER, "--port", "0", "--host", "127.0.0.1", "--db", os.path.join(workdir, "tracker.db"),
                     "--ttl", str(ttl), "--log-level", "warn"],
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = read_line_matching(p, "listening")
    return int(re.search(r":(\d+)\b", line).group(1))


def vm_hwm_kib(pid):
    """The process's peak resident set size so far (VmHWM), in KiB; 0 if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_timed_rss(argv, **kwargs):
    """Runs argv; returns (wall seconds, peak RSS in KiB) of that process.

    The peak is VmHWM sampled every 20 ms until exit (ru_maxrss from wait4
    would include the RSS of this forking Python process, carried across
    exec)."""
    start = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, **kwargs)
    peak = 0
    while True:
        pid, status, _ = os.wait4(p.pid, os.WNOHANG)
        if pid != 0:
            break
        peak = max(peak, vm_hwm_kib(p.pid))
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited with {p.returncode}")
    return elapsed, peak


def files_equal(a, b_path):
    import filecmp
    return filecmp.cmp(a, b_path, shallow=False)
