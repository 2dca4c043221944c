"""The whole benchmark in one command: the upstream alone, LiteLLM's proxy, openai-bridge (1 and 2 workers),
and the native pass-through (the upstream's own /v1/responses alone, and through openai-bridge).

    uv run python bench/run.py                      # ~3 minutes (plus LiteLLM's install on first use)
    uv run python bench/run.py --duration 10 --warmup 2
    uv run python bench/run.py --skip-litellm --targets bridge-1w
    uv run python bench/run.py --skip-litellm --targets direct-native,bridge-native

Everything runs on this machine, against bench upstreams (bench/upstream.py): a chat-only one
(`--chat-only`, /v1/responses is 404) for the translated path (direct, litellm, bridge-Nw), and one that
also serves /v1/responses for the native pass-through (direct-native, bridge-native). For each target and
each cell (non-stream / stream x 1 / 16 connections) bench/load.py runs in its own process. Results go
to bench/results/results.{json,md,png}. See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
CACHE = Path(os.environ.get("OPENAI_BRIDGE_BENCH_CACHE", Path.home() / ".cache" / "openai-bridge-bench"))
LITELLM_VENV = CACHE / "litellm-venv"
LITELLM_KEY = "sk-bench"
MODEL = "bench-model"
ALL_TARGETS = ["direct", "litellm", "bridge-1w", "bridge-nostore", "bridge-2w", "direct-native", "bridge-native"]
# Served by the upstream that also answers /v1/responses; the others by the chat-only one.
NATIVE_TARGETS = ("direct-native", "bridge-native")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- processes


def start(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
          logfile: Path) -> subprocess.Popen:
    out = open(logfile, "wb")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float, logfile: Path) -> float:
    """Seconds from now until `url` answers 200 (call right after start())."""
    t0 = time.perf_counter()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited with {proc.returncode}; see {logfile}:\n"
                               + logfile.read_text(errors="replace")[-3000:])
        with contextlib.suppress(Exception), urllib.request.urlopen(url, timeout=1) as r:
            if r.status == 200:
                return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"{url}: not healthy after {timeout}s; see {logfile}")
        time.sleep(0.02)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's own process group (it was started in a new session), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def tree_pids(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants (VmRSS from /proc), in MB. Pages that forked
    workers share are counted once per process."""
    total_kb = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
                        break
        except OSError:
            pass
    return round(total_kb / 1024, 1)


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and its descendants."""
    ticks = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------- targets


def ensure_litellm() -> Path:
    exe = LITELLM_VENV / "bin" / "litellm"
    if exe.exists():
        return exe
    uv = shutil.which("uv") or os.environ.get("UV") or "uv"
    log(f"installing litellm[proxy] into {LITELLM_VENV} (first use; takes a minute or a few)")
    CACHE.mkdir(parents=True, exist_ok=True)
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([uv, "venv", "--python", base_python, str(LITELLM_VENV)], check=True)
    subprocess.run([uv, "pip", "install", "--python", str(LITELLM_VENV / "bin" / "python"), "litellm[proxy]"],
                   check=True)
    return exe


def litellm_version() -> str | None:
    with contextlib.suppress(Exception):
        return subprocess.run([str(LITELLM_VENV / "bin" / "python"), "-c",
                               "import importlib.metadata as m; print(m.version('litellm'))"],
                              capture_output=True, text=True, timeout=30).stdout.strip() or None
    return None


def start_litellm(upstream: str, port: int, workdir: Path) -> tuple[subprocess.Popen, str, Path]:
    exe = ensure_litellm()
    cfg = workdir / "litellm.yaml"
    # JSON is YAML: no PyYAML needed here.
    cfg.write_text(json.dumps({
        "model_list": [{"model_name": MODEL, "litellm_params": {
            "model": f"openai/{MODEL}", "api_base": upstream + "/v1", "api_key": "sk-upstream",
            "use_chat_completions_api": True}}],
        "litellm_settings": {"telemetry": False},
    }, indent=2))
    env = {**os.environ, "LITELLM_MASTER_KEY": LITELLM_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "LITELLM_LOG": "ERROR"}
    logfile = workdir / "litellm.log"
    proc = start([str(exe), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"],
                 env=env, cwd=workdir, logfile=logfile)
    return proc, f"http://127.0.0.1:{port}/health/liveliness", logfile


def start_bridge(upstream: str, port: int, workers: int, workdir: Path, *, name: str,
                 mode: str | None = None) -> tuple[subprocess.Popen, str, Path]:
    """openai-bridge in front of `upstream`; `mode` sets BRIDGE_UPSTREAM_MODE (None: its default)."""
    exe = Path(sys.executable).parent / "openai-bridge"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "openai_bridge.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "REMOTE_OPENAI_"))}
    env["BRIDGE_STATE_DIR"] = str(workdir / "bridge-state")  # keep the generated reasoning key out of ~
    if mode:
        env["BRIDGE_UPSTREAM_MODE"] = mode
    logfile = workdir / f"{name}.log"
    proc = start(cmd + ["--port", str(port), "--upstream", upstream, "--workers", str(workers),
                        "--log-level", "warning"], env=env, cwd=REPO, logfile=logfile)
    return proc, f"http://127.0.0.1:{port}/healthz", logfile


def run_load(url: str, *, direct: bool, stream: bool, conns: int, duration: float, warmup: float,
             key: str | None, direct_responses: bool = False, store: bool | None = None) -> dict:
    cmd = [sys.executable, str(HERE / "load.py"), "--url", url, "-c", str(conns), "-d", str(duration),
           "--warmup", str(warmup), "--model", MODEL, "--json", "--stream" if stream else "--no-stream"]
    if direct:
        cmd.append("--direct")
    if direct_responses:
        cmd.append("--direct-responses")
    if store is not None:
        cmd.append("--store" if store else "--no-store")
    if key:
        cmd += ["--key", key]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + warmup + 180)
    if not p.stdout.strip():
        return {"requests": 0, "failures": -1, "first_failure": p.stderr[-2000:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def upstream_calls(up_url: str) -> dict[str, int]:
    """The requests the bench upstream answered so far, per API (`GET /bench/stats`)."""
    with contextlib.suppress(Exception), urllib.request.urlopen(up_url + "/bench/stats", timeout=5) as r:
        return json.loads(r.read())
    return {}


# ----------------------------------------------------------------------------- report


def soak(url: str, pid: int, total: int, steps: int = 10) -> dict:
    """`total` more requests in `steps` batches, alternating stream and non-stream; RSS after each batch.
    Memory is flat when the later samples stop growing."""
    samples, failures, sent = [], 0, 0
    for i in range(steps):
        n = total // steps
        cmd = [sys.executable, str(HERE / "load.py"), "--url", url, "-c", "16", "-n", str(n), "--warmup", "0",
               "--model", MODEL, "--json", "--stream" if i % 2 else "--no-stream"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        r = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {"failures": n}
        failures += r.get("failures", 0)
        sent += n
        samples.append(tree_rss_mb(pid))
    half = samples[steps // 2:]
    return {"requests": sent, "failures": failures, "rss_mb": samples,
            "growth_second_half_mb": round(max(half) - min(half), 1)}


def fmt(v: float | None, nd: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{nd}f}" if isinstance(v, float) else f"{v:,}"


def cells_of(results: dict, name: str) -> dict[str, dict]:
    return {c["cell"]: c for c in results["targets"].get(name, {}).get("cells", [])}


def add_derived(results: dict) -> None:
    direct = cells_of(results, "direct")
    native_direct = cells_of(results, "direct-native")
    for name, t in results["targets"].items():
        # Each path's added latency is over its own ceiling: the upstream's chat API for the translated
        # targets, its /v1/responses for the native ones.
        ceiling = native_direct if name in NATIVE_TARGETS else direct
        for c in t.get("cells", []):
            d = ceiling.get(c["cell"])
            for p in ("p50", "p99"):
                v, dv = c.get(f"lat_{p}_ms"), (d or {}).get(f"lat_{p}_ms")
                c[f"added_{p}_ms"] = round(v - dv, 3) if v is not None and dv is not None else None
    ratios = []
    lite = {c["cell"]: c for c in results["targets"].get("litellm", {}).get("cells", [])}
    for name in ("bridge-1w", "bridge-2w"):
        for c in results["targets"].get(name, {}).get("cells", []):
            row = {"target": name, "cell": c["cell"]}
            lc, dc = lite.get(c["cell"]), direct.get(c["cell"])
            row["rps_vs_litellm"] = round(c["req_s"] / lc["req_s"], 2) if lc and lc.get("req_s") else None
            row["rps_vs_direct"] = round(c["req_s"] / dc["req_s"], 4) if dc and dc.get("req_s") else None
            row["litellm_p50_over_bridge_p50"] = (round(lc["lat_p50_ms"] / c["lat_p50_ms"], 2)
                                                  if lc and lc.get("lat_p50_ms") and c.get("lat_p50_ms") else None)
            row["added_p50_litellm_over_bridge"] = (
                round(lc["added_p50_ms"] / c["added_p50_ms"], 2)
                if lc and lc.get("added_p50_ms") and c.get("added_p50_ms") and c["added_p50_ms"] > 0 else None)
            ratios.append(row)
    results["ratios"] = ratios
    results["native_ratios"] = native_ratios(results)
    results["store_ratios"] = store_ratios(results)


def rps_ratio(a: dict | None, b: dict | None) -> float | None:
    """Cell `a`'s req/s over cell `b`'s, when both have one."""
    return round(a["req_s"] / b["req_s"], 4) if a and b and a.get("req_s") and b.get("req_s") else None


def store_ratios(results: dict) -> list[dict]:
    """Per cell, the bridge with its default store (bridge-1w: every response kept in SQLite before its terminal
    event) against the same bridge whose clients send `store: false` (bridge-nostore), each also over `direct`."""
    on, off, dc = cells_of(results, "bridge-1w"), cells_of(results, "bridge-nostore"), cells_of(results, "direct")
    rows = []
    for cell, a in on.items():
        b, d = off.get(cell), dc.get(cell)
        if rps_ratio(a, b) is not None:
            rows.append({"cell": cell, "store_on_over_off": rps_ratio(a, b), "on_vs_direct": rps_ratio(a, d),
                         "off_vs_direct": rps_ratio(b, d)})
    return rows


def native_ratios(results: dict) -> list[dict]:
    """Per cell, each path against its own ceiling: translated (bridge-1w / direct, chat upstream) and native
    pass-through (bridge-native / direct-native, the upstream's /v1/responses); both bridges with 1 worker."""
    tr, dc = cells_of(results, "bridge-1w"), cells_of(results, "direct")
    nat, nd = cells_of(results, "bridge-native"), cells_of(results, "direct-native")
    rows = []
    for cell in list(dict.fromkeys([*tr, *nat])):
        t, n = tr.get(cell), nat.get(cell)
        rows.append({"cell": cell,
                     "translated_vs_ceiling": rps_ratio(t, dc.get(cell)),
                     "native_vs_ceiling": rps_ratio(n, nd.get(cell)),
                     "native_over_translated": rps_ratio(n, t),
                     "translated_added_p50_ms": (t or {}).get("added_p50_ms"),
                     "native_added_p50_ms": (n or {}).get("added_p50_ms"),
                     "native_upstream_calls": (n or {}).get("upstream_calls")})
    return rows


def markdown(results: dict) -> str:
    m = results["meta"]
    out = [f"# openai-bridge benchmark ({m['date']})", "",
           f"{m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, openai-bridge {m['bridge_git']}, "
           f"LiteLLM {m.get('litellm_version') or '–'}. Upstream: bench/upstream.py, {m['deltas']} deltas per "
           f"stream, TTFT {m['ttft_ms']} ms, {m['delta_ms']} ms between deltas (chat-only for direct, litellm and "
           f"bridge-Nw; its /v1/responses too for direct-native and bridge-native, whose +p50/+p99 are over "
           f"direct-native). {m['duration']} s measured per cell "
           f"after {m['warmup']} s warm-up. Everything (load generator, upstream, server) shares the machine "
           f"(load average before {m['loadavg_before']}, after {m.get('loadavg_after')}).", "",
           "| target | mode | conns | req/s | events/s | p50 ms | p99 ms | +p50 ms | +p99 ms | TTFT p50 | TTFT p99 "
           "| fail | server CPU | load-gen CPU |",
           "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for name, t in results["targets"].items():
        for c in t.get("cells", []):
            out.append(f"| {name} | {c['mode']} | {c['conns']} | {fmt(c.get('req_s'))} | {fmt(c.get('events_s'), 0)} "
                       f"| {fmt(c.get('lat_p50_ms'), 2)} | {fmt(c.get('lat_p99_ms'), 2)} "
                       f"| {fmt(c.get('added_p50_ms'), 2)} | {fmt(c.get('added_p99_ms'), 2)} "
                       f"| {fmt(c.get('ttft_p50_ms'), 2)} | {fmt(c.get('ttft_p99_ms'), 2)} | {c.get('failures')} "
                       f"| {fmt(c.get('server_cpu_pct'), 0)} % | {fmt(c.get('client_cpu_pct'), 0)} % |")
    out += ["", "| target | start-up to healthy (s) | RSS after load (MB, process tree) |", "|---|--:|--:|"]
    for name, t in results["targets"].items():
        out.append(f"| {name} | {fmt(t.get('startup_s'), 2)} | {fmt(t.get('rss_mb'), 1)} |")
    soaked = results["targets"].get("bridge-1w", {}).get("soak")
    if soaked:
        out += ["", f"Soak: {soaked['requests']:,} more requests to bridge-1w ({soaked['failures']} failed); RSS after "
                f"each tenth: {', '.join(fmt(x, 1) for x in soaked['rss_mb'])} MB; growth over the second half "
                f"{soaked['growth_second_half_mb']} MB."]
    one = {c["cell"]: c for c in results["targets"].get("bridge-1w", {}).get("cells", [])}
    two = {c["cell"]: c for c in results["targets"].get("bridge-2w", {}).get("cells", [])}
    if one and two:
        out += ["", "Workers: bridge-2w req/s over bridge-1w: " + ", ".join(
            f"{cell} {two[cell]['req_s'] / one[cell]['req_s']:.2f}x (server CPU {one[cell].get('server_cpu_pct')} % "
            f"-> {two[cell].get('server_cpu_pct')} %; requests per server CPU-second "
            f"{one[cell].get('req_per_server_cpu_s')} -> {two[cell].get('req_per_server_cpu_s')})" for cell in one
            if cell in two and one[cell].get("req_s") and two[cell].get("req_s")) + "."]
    if results.get("ratios"):
        out += ["", "| target | cell | req/s vs LiteLLM | req/s vs direct | LiteLLM p50 / bridge p50 "
                "| LiteLLM added p50 / bridge added p50 |", "|---|---|--:|--:|--:|--:|"]
        for r in results["ratios"]:
            out.append(f"| {r['target']} | {r['cell']} | {fmt(r['rps_vs_litellm'], 2)}x "
                       f"| {fmt(r['rps_vs_direct'], 4)} | {fmt(r['litellm_p50_over_bridge_p50'], 2)}x "
                       f"| {fmt(r['added_p50_litellm_over_bridge'], 2)}x |")
    if results.get("native_ratios"):
        out += ["", "Native pass-through vs translated, each against its own ceiling (req/s of the bridge over the "
                "upstream alone; 1 worker each; upstream calls: which API bridge-native used):", "",
                "| cell | translated: bridge-1w / direct | native: bridge-native / direct-native "
                "| bridge-native / bridge-1w | translated +p50 ms | native +p50 ms | bridge-native upstream calls |",
                "|---|--:|--:|--:|--:|--:|---|"]
        for r in results["native_ratios"]:
            calls = r.get("native_upstream_calls")
            calls_s = ", ".join(f"{k} {v:,}" for k, v in calls.items()) if calls else "–"
            out.append(f"| {r['cell']} | {fmt(r['translated_vs_ceiling'], 4)} | {fmt(r['native_vs_ceiling'], 4)} "
                       f"| {fmt(r['native_over_translated'], 2)}x | {fmt(r['translated_added_p50_ms'], 2)} "
                       f"| {fmt(r['native_added_p50_ms'], 2)} | {calls_s} |")
    if results.get("store_ratios"):
        out += ["", "The default store (bridge-1w: SQLite, every response committed before its terminal event) against "
                "store: false (bridge-nostore), 1 worker each:", "",
                "| cell | store on / store off | on / direct | off / direct |", "|---|--:|--:|--:|"]
        for r in results["store_ratios"]:
            out.append(f"| {r['cell']} | {fmt(r['store_on_over_off'], 3)} | {fmt(r['on_vs_direct'], 4)} "
                       f"| {fmt(r['off_vs_direct'], 4)} |")
    if results.get("translate_micro"):
        out += ["", "Translator alone (bench/translate_micro.py, one core, no I/O):", ""]
        for r in results["translate_micro"]:
            label = "orjson.loads + translate + frame" if r["parse"] else "translate + frame"
            out.append(f"- {label}: {r['chunks_s']:,} chunks/s ({r['streams_s']:,} streams of "
                       f"{r['deltas'] + 3} chunks/s, {r['us_per_chunk']} µs/chunk)")
    failures = [(n, c["cell"], c["first_failure"]) for n, t in results["targets"].items()
                for c in t.get("cells", []) if c.get("first_failure")]
    errors = [(n, t["error"]) for n, t in results["targets"].items() if t.get("error")]
    if failures or errors:
        out += ["", "Failures:", ""]
        out += [f"- {n} {cell}: `{str(f)[:300]}`" for n, cell, f in failures]
        out += [f"- {n}: `{e[:300]}`" for n, e in errors]
    out += ["", "![throughput and latency](results.png)", ""]
    return "\n".join(out)


def chart(json_path: Path, png_path: Path) -> None:
    script = HERE / "chart.py"
    if importlib.util.find_spec("matplotlib") is not None:
        cmd = [sys.executable, str(script), str(json_path), str(png_path)]
    else:
        uv = shutil.which("uv") or os.environ.get("UV") or "uv"
        cmd = [uv, "run", "--no-project", "--with", "matplotlib", "python", str(script), str(json_path), str(png_path)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        log(f"chart failed: {p.stderr[-1500:]}")
    else:
        log(f"chart: {png_path}")


# ----------------------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(description="openai-bridge vs LiteLLM vs the upstream itself")
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds per cell (default 5)")
    p.add_argument("--warmup", type=float, default=1.0, help="uncounted seconds before each cell (default 1)")
    p.add_argument("--conns", default="1,16", help="connection counts (default 1,16)")
    p.add_argument("--modes", default="non-stream,stream")
    p.add_argument("--targets", default=",".join(ALL_TARGETS), help=f"subset of {','.join(ALL_TARGETS)}")
    p.add_argument("--skip-litellm", action="store_true")
    p.add_argument("--skip-micro", action="store_true", help="skip bench/translate_micro.py")
    p.add_argument("--deltas", type=int, default=50, help="content deltas per upstream stream")
    p.add_argument("--ttft-ms", type=float, default=0.0, help="upstream time to first token")
    p.add_argument("--delta-ms", type=float, default=0.0, help="upstream delay between deltas")
    p.add_argument("--out", type=Path, default=RESULTS, help="results directory (default bench/results)")
    p.add_argument("--no-chart", action="store_true")
    p.add_argument("--soak", type=int, default=100_000,
                   help="after its cells, send bridge-1w this many more requests (stream and non-stream "
                        "alternating, 16 connections) and sample its RSS ten times; 0 skips (default 100000)")
    a = p.parse_args()

    targets = [t for t in a.targets.split(",") if t]
    if a.skip_litellm and "litellm" in targets:
        targets.remove("litellm")
    conns = [int(c) for c in a.conns.split(",")]
    modes = [m for m in a.modes.split(",") if m]
    cells = [(mode, mode == "stream", c) for mode in modes for c in conns]
    a.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="openai-bridge-bench-"))

    if "litellm" in targets:
        ensure_litellm()  # before any timing: the first install takes minutes

    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True)
    cpu_model = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    results: dict = {"meta": {
        "date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "cpu_model": cpu_model,
        "python": platform.python_version(), "bridge_git": git.stdout.strip() or "?",
        "litellm_version": litellm_version() if "litellm" in targets else None,
        "deltas": a.deltas, "ttft_ms": a.ttft_ms, "delta_ms": a.delta_ms,
        "duration": a.duration, "warmup": a.warmup, "workdir": str(workdir),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }, "targets": {}}

    unknown = [t for t in targets if t not in ALL_TARGETS]
    if unknown:
        raise SystemExit(f"unknown target(s) {','.join(unknown)}; choose from {','.join(ALL_TARGETS)}")

    def start_upstream(kind: str, chat_only: bool) -> tuple[subprocess.Popen, str, float]:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        logfile = workdir / f"upstream-{kind}.log"
        proc = start([sys.executable, str(HERE / "upstream.py"), "--port", str(port), "--model", MODEL,
                      "--deltas", str(a.deltas), "--ttft-ms", str(a.ttft_ms), "--delta-ms", str(a.delta_ms)]
                     + (["--chat-only"] if chat_only else []), logfile=logfile)
        upstreams.append(proc)
        startup = wait_healthy(url + "/v1/models", proc, 30, logfile)
        log(f"upstream ({kind}) on {url} (log {logfile})")
        return proc, url, startup

    # Two upstreams, so that the translated path keeps measuring a chat-only server (its /v1/responses 404,
    # as before the native mode), and the native targets get the same script that also serves /v1/responses.
    upstreams: list[subprocess.Popen] = []
    try:
        chat_up = native_up = None
        if any(t not in NATIVE_TARGETS for t in targets):
            chat_up = start_upstream("chat", chat_only=True)
        if any(t in NATIVE_TARGETS for t in targets):
            native_up = start_upstream("native", chat_only=False)
        for name in targets:
            proc = None
            entry: dict = {"cells": []}
            results["targets"][name] = entry
            serving = native_up if name in NATIVE_TARGETS else chat_up
            assert serving is not None  # started above for every target that needs it
            upstream, up_url, up_startup = serving
            entry["upstream"] = "chat + responses" if name in NATIVE_TARGETS else "chat only"
            try:
                direct_responses = False
                if name == "direct":
                    url, key, direct = up_url, None, True
                    entry["startup_s"] = round(up_startup, 3)
                elif name == "direct-native":
                    url, key, direct, direct_responses = up_url, None, False, True
                    entry["startup_s"] = round(up_startup, 3)
                else:
                    port = free_port()
                    if name == "litellm":
                        proc, health, logfile = start_litellm(up_url, port, workdir)
                        key = LITELLM_KEY
                    elif name == "bridge-nostore":  # bridge-1w, its clients sending store: false
                        proc, health, logfile = start_bridge(up_url, port, 1, workdir, name=name)
                        key = None
                    elif name == "bridge-native":
                        entry["bridge_upstream_mode"] = "responses"
                        proc, health, logfile = start_bridge(up_url, port, 1, workdir, name=name, mode="responses")
                        key = None
                    else:
                        workers = int(name.removeprefix("bridge-").removesuffix("w"))
                        proc, health, logfile = start_bridge(up_url, port, workers, workdir, name=name)
                        key = None
                    entry["startup_s"] = round(wait_healthy(health, proc, 240, logfile), 3)
                    url, direct = f"http://127.0.0.1:{port}", False
                    log(f"{name}: healthy after {entry['startup_s']} s")
                server_pid = proc.pid if proc else upstream.pid
                for mode, stream, c in cells:
                    calls0 = upstream_calls(up_url)
                    cpu0, t0 = tree_cpu_s(server_pid), time.monotonic()
                    r = run_load(url, direct=direct, stream=stream, conns=c, duration=a.duration,
                                 warmup=a.warmup, key=key, direct_responses=direct_responses,
                                 store=False if name == "bridge-nostore" else None)
                    cpu_pct = 100 * (tree_cpu_s(server_pid) - cpu0) / (time.monotonic() - t0)
                    calls1 = upstream_calls(up_url)
                    r.update({"cell": f"{mode} c{c}", "mode": mode, "conns": c, "server_cpu_pct": round(cpu_pct),
                              "upstream_calls": {k: calls1[k] - calls0.get(k, 0) for k in calls1}})
                    if name == "bridge-native" and r["upstream_calls"].get("chat"):
                        log(f"{name}: the bridge called the upstream's chat API {r['upstream_calls']['chat']} times "
                            f"(it translated: no native pass-through in this build)")
                    if r.get("req_s") and cpu_pct > 0:
                        r["req_per_server_cpu_s"] = round(r["req_s"] / (cpu_pct / 100), 1)
                    entry["cells"].append(r)
                    log(f"{name:>9} {mode:>10} c{c:<3} {r.get('req_s')} req/s  p50 {r.get('lat_p50_ms')} ms  "
                        f"p99 {r.get('lat_p99_ms')} ms  ttft {r.get('ttft_p50_ms')} ms  fail {r.get('failures')}  "
                        f"(server CPU {r.get('server_cpu_pct')} %, load-gen CPU {r.get('client_cpu_pct')} %)")
                entry["rss_mb"] = tree_rss_mb(server_pid)
                log(f"{name}: RSS {entry['rss_mb']} MB")
                if name == "bridge-1w" and a.soak and proc is not None:
                    entry["soak"] = soak(url, proc.pid, a.soak)
                    log(f"{name}: soak RSS samples {entry['soak']['rss_mb']} MB")
            except Exception as e:  # noqa: BLE001 - one target failing must not lose the others
                entry["error"] = f"{type(e).__name__}: {e}"
                log(f"{name}: FAILED: {entry['error']}")
            finally:
                if proc is not None:
                    stop(proc)
    finally:
        for up in upstreams:
            stop(up)

    if not a.skip_micro:
        log("translator micro-benchmark")
        mp = subprocess.run([sys.executable, str(HERE / "translate_micro.py"), "--seconds", "2", "--json"],
                            capture_output=True, text=True)
        if mp.returncode == 0:
            results["translate_micro"] = json.loads(mp.stdout)
        else:
            log(f"translate_micro failed: {mp.stderr[-1000:]}")

    results["meta"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    add_derived(results)
    json_path, md_path, png_path = a.out / "results.json", a.out / "results.md", a.out / "results.png"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md = markdown(results)
    md_path.write_text(md)
    if not a.no_chart:
        chart(json_path, png_path)
    print(md)
    log(f"wrote {json_path}, {md_path}")


if __name__ == "__main__":
    main()
