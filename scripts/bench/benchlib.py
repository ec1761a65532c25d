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


def ensure_built(*setup_args, targets=()):
    """Runs scripts/setup and scripts/build, as the README commands do, then
    builds `targets` (tools the default build leaves out)."""
    subprocess.run([os.path.join(ROOT, "scripts", "setup"), *setup_args], check=True)
    subprocess.run([os.path.join(ROOT, "scripts", "build")], check=True,
                   stdout=subprocess.DEVNULL)
    if targets:
        build_targets(BUILD, targets)


def build_targets(build_dir, targets):
    """Builds the named targets in an existing build directory."""
    subprocess.run(["cmake", "--build", build_dir, "--parallel", str(os.cpu_count() or 1),
                    *[a for t in targets for a in ("--target", t)]],
                   check=True, stdout=subprocess.DEVNULL)


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

    def stop(self, procs, sig=None, grace=10):
        """Signals each of `procs` (SIGTERM by default) that still runs, waits up
        to `grace` seconds for all of them, then kills the rest; forgets them.
        Returns {process: True if it had to be killed}."""
        import signal as _signal
        procs = list(procs)
        for p in procs:
            if p.poll() is None:
                p.send_signal(sig or _signal.SIGTERM)
        deadline = time.monotonic() + grace
        killed = {}
        for p in procs:
            killed[p] = False
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                killed[p] = True
        self.procs = [p for p in self.procs if p not in killed]
        return killed

    def stop_all(self, sig=None, grace=10):
        self.stop(self.procs, sig, grace)
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


def start_tracker(procs, workdir, ttl=30, binary=None, stderr=subprocess.DEVNULL):
    """Starts a tracker on an ephemeral loopback port; returns its port.

    binary: the tracker program (default: TRACKER); stderr: where its log goes."""
    import re
    p = procs.start([binary or TRACKER, "--port", "0", "--host", "127.0.0.1",
                     "--db", os.path.join(workdir, "tracker.db"), "--ttl", str(ttl), "--log-level", "warn"],
                    stdout=subprocess.PIPE, stderr=stderr)
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


def free_ports(n, udp_too=False):
    """n distinct free TCP ports on 127.0.0.1 (also free for UDP if udp_too).

    The sockets are held until all n are chosen, so the ports differ; another
    process could still take one before it is used (unlikely on loopback)."""
    import socket
    held, ports = [], []
    try:
        for _ in range(50 * n + 50):
            if len(ports) == n:
                break
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if udp_too:
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(u)
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
            ports.append(port)
    finally:
        for s in held:
            s.close()
    if len(ports) != n:
        raise RuntimeError(f"could not find {n} free ports")
    return ports


def listening(port):
    """True if some TCP socket listens on this port (from /proc/net/tcp{,6})."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def wait_until(predicate, timeout, what, interval=0.01):
    """Polls predicate() until it is true; raises RuntimeError naming `what`
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def tail(path, lines=12):
    """The last lines of a text file, indented, for error messages."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode(errors="replace")
    except OSError as e:
        return f"    ({path}: {e.strerror})"
    rows = text.splitlines()[-lines:]
    if not rows:
        return f"    ({os.path.basename(path)} is empty)"
    return "\n".join(f"    {os.path.basename(path)}: {r}" for r in rows)


# aria2c options used by every aria2c process of the benchmarks: no DHT/LPD
# (one tracker), peer exchange on (helps getters find each other), no limit on peers
# per torrent, no config file or netrc from the user, no periodic control-file
# saves, quiet console, and it exits if this script dies.
ARIA2_COMMON = [
    "--no-conf=true", "--no-netrc=true",
    "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
    "--enable-peer-exchange=true",
    "--bt-max-peers=0",
    "--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=10",
    "--file-allocation=none",
    "--auto-save-interval=0",
    "--allow-overwrite=true",
    "--summary-interval=0", "--show-console-readout=false", "--console-log-level=warn",
    "--enable-color=false",
]


# --- bencoding (BitTorrent metainfo), enough to read and write a .torrent ---

def bdecode(data):
    """Decodes bencoded bytes. Returns (value, spans) where spans maps each
    top-level dictionary key (bytes) to the (start, end) of its raw value, so
    the info hash can be taken over the exact bytes of the info dictionary."""
    spans = {}

    def parse(i, depth, top):
        if depth > 64:
            raise ValueError("bencode nested too deeply")
        c = data[i:i + 1]
        if c == b"i":
            end = data.index(b"e", i)
            return int(data[i + 1:end]), end + 1
        if c == b"l":
            out, i = [], i + 1
            while data[i:i + 1] != b"e":
                v, i = parse(i, depth + 1, False)
                out.append(v)
            return out, i + 1
        if c == b"d":
            out, i = {}, i + 1
            while data[i:i + 1] != b"e":
                k, i = parse(i, depth + 1, False)
                if not isinstance(k, bytes):
                    raise ValueError("bencode dictionary key is not a string")
                start = i
                v, i = parse(i, depth + 1, False)
                if top:
                    spans[k] = (start, i)
                out[k] = v
            return out, i + 1
        if c.isdigit():
            colon = data.index(b":", i)
            n = int(data[i:colon])
            end = colon + 1 + n
            if end > len(data):
                raise ValueError("bencode string runs past the end")
            return data[colon + 1:end], end
        raise ValueError(f"bencode: unexpected byte {c!r} at {i}")

    value, end = parse(0, 0, True)
    if end != len(data):
        raise ValueError("bencode: trailing bytes")
    return value, spans


def bencode(value):
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


def torrent_info_hash(torrent_bytes):
    """The info hash (hex) of a .torrent: SHA-1 of the raw info dictionary."""
    import hashlib
    _, spans = bdecode(torrent_bytes)
    start, end = spans[b"info"]
    return hashlib.sha1(torrent_bytes[start:end]).hexdigest()


def torrent_with_announce(torrent_bytes, url):
    """The same torrent (same info dictionary, so the same info hash) announcing to url."""
    meta, _ = bdecode(torrent_bytes)
    meta[b"announce"] = url.encode()
    meta.pop(b"announce-list", None)
    return bencode(meta)


def parse_rate(text):
    """'20M' -> 20 MiB, '512K' -> 512 KiB, '100' -> 100 (bytes; K/M/G are powers of 1024)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    unit = text[-1] if text and text[-1] in "KMG" else ""
    return int(float(text[:len(text) - len(unit)]) * units[unit])
