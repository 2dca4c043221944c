"""`--workers N`: the supervisor and its workers as real processes. Workers die with the supervisor, a
worker that dies is replaced (after growing delays when it keeps dying), and SIGTERM reaches every worker,
which then stops gracefully.

Every timing assertion is a lower bound the supervisor guarantees, or an upper bound seconds away.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from openai_bridge.testing import ScriptedUpstream, chunk, free_port, pause, sse

from .test_cli import wait_healthy
from .test_shutdown import Request


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def gone(pid: int) -> bool:
    """Exited (a zombie counts: it holds nothing, and its parent may be a PID 1 that does not reap)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def port_free(port: int) -> bool:
    """Nobody listens on `port`: a new bridge could (SO_REUSEADDR, as the bridge binds)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


def wait_until(condition: Callable[[], object], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {limit} s: {what}")
        time.sleep(0.01)


class Supervisor:
    def __init__(self, tmp_path: Path, workers: int = 2, *, upstream: str | None = None, grace: float = 10) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "bridge.log"
        env = {**os.environ, "BRIDGE_PORT": str(self.port), "BRIDGE_REASONING_KEY": "test", "DEFAULT_MODEL": "m",
               "BRIDGE_SHUTDOWN_GRACE": str(grace),
               "REMOTE_OPENAI_BASE_URL": upstream or f"http://127.0.0.1:{free_port()}"}
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "openai_bridge.cli", "--workers", str(workers)],
                                         env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.started: set[int] = set()
        wait_healthy(self.port, self.proc, limit=30)
        wait_until(lambda: len(self.workers()) == workers, 15, f"{workers} workers")

    def workers(self) -> list[int]:
        found = children(self.proc.pid)
        self.started.update(found)
        return found

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def cleanup(self) -> None:
        """Whatever this test started and is still there: the supervisor, and each worker by its pid."""
        if self.proc.poll() is None:
            self.workers()
            self.proc.kill()
            self.proc.wait()
        for pid in self.started:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def supervisor_factory(tmp_path: Path) -> Iterator[Callable[..., Supervisor]]:
    made: list[Supervisor] = []

    def make(*args: object, **kw: object) -> Supervisor:
        made.append(Supervisor(tmp_path, *args, **kw))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for sup in made:
        sup.cleanup()


def serves(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_workers_die_with_the_supervisor(supervisor_factory: Callable[..., Supervisor]):
    """kill -9 the supervisor: no orphan worker keeps serving, or holding the port."""
    sup = supervisor_factory()
    workers = sup.workers()
    sup.proc.kill()
    sup.proc.wait()
    for pid in workers:
        wait_until(lambda pid=pid: gone(pid), 20, f"worker {pid} gone")
    wait_until(lambda: port_free(sup.port), 5, "the port free")


def test_a_killed_worker_is_replaced(supervisor_factory: Callable[..., Supervisor]):
    sup = supervisor_factory()
    first = sup.workers()
    os.kill(first[0], signal.SIGKILL)
    wait_until(lambda: len(set(sup.workers()) - set(first)) == 1 and len(sup.workers()) == 2, 15,
               "a new worker in its place")
    (new,) = set(sup.workers()) - set(first)
    wait_until(lambda: listening(new, sup.port), 15, "the new worker listening")
    assert all(serves(sup.url) for _ in range(10))
    assert sup.proc.poll() is None
    assert f"worker 0 (pid {first[0]}) exited with -9" in sup.log


def listening(pid: int, port: int) -> bool:
    """`pid` holds a socket listening on `port` (from /proc/net/tcp and the process's descriptors)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
            inodes.add(fields[9])
    try:
        fds = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return any(fd == f"socket:[{inode}]" for fd in fds for inode in inodes)


def test_a_worker_that_keeps_dying_is_restarted_after_growing_delays(supervisor_factory: Callable[..., Supervisor]):
    """Killed as soon as it appears, four times: each replacement comes later than the one before (the
    delays double), the other worker serves all along, and the last replacement, left alone, serves."""
    sup = supervisor_factory()
    other, victim = sup.workers()
    gaps = []
    for _ in range(4):
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda v=victim: len(set(sup.workers()) - {other, v}) == 1, 30, "a replacement")
        gaps.append(time.monotonic() - killed)
        (victim,) = set(sup.workers()) - {other}
        assert serves(sup.url)
    wait_until(lambda: listening(victim, sup.port), 15, "the last replacement listening")
    assert other in sup.workers() and sup.proc.poll() is None
    # The delays are 0, 0.5, 1 and 2 s; a gap is the delay plus the supervisor's own reaction time.
    assert gaps[1] >= 0.5 and gaps[2] >= 1 and gaps[3] >= 2, gaps
    assert gaps[3] < 10, gaps
    assert re.findall(r"exited with -9 after [\d.]+ s; starting a new one in ([\d.]+) s", sup.log) == \
        ["0.0", "0.5", "1.0", "2.0"]


@pytest.mark.parametrize("how", ["SIGTERM to the supervisor", "Ctrl-C"])
def test_stopping_reaches_every_worker_and_each_stops_gracefully(supervisor_factory: Callable[..., Supervisor],
                                                                 how: str):
    """SIGTERM to the supervisor (as a service manager sends it), or SIGINT to the whole process group (as
    Ctrl-C in a terminal: every worker gets it, and the supervisor's SIGTERM too): every worker shuts down
    gracefully, its streams under way end with response.failed after the grace period, exit status 0."""
    grace = 2.0
    with ScriptedUpstream(sse([chunk(role="assistant", content=""), chunk("Hel"), pause(60),
                               chunk(finish_reason="stop")])) as up:
        sup = supervisor_factory(upstream=up.base_url, grace=grace)
        workers = sup.workers()
        streams = [Request(sup.url, {"input": "hi", "stream": True}) for _ in range(4)]
        for s in streams:
            s.wait_for("response.output_text.delta")
        if how == "Ctrl-C":
            os.killpg(sup.proc.pid, signal.SIGINT)
        else:
            sup.proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        assert sup.proc.wait(grace + 30) == 0
        ends = [s.last() for s in streams]
    for ended, failed in ends:
        assert failed["type"] == "response.failed"
        assert failed["response"]["error"]["code"] == "server_shutting_down"
        assert ended - sent >= grace - 0.05
    assert all(gone(pid) for pid in workers)
    log = sup.log
    assert log.count("stopping; responses under way get 2 s to finish") == 2, log
    assert "Traceback" not in log, log
    assert "asked again" not in log, log


def test_a_later_second_sigterm_to_the_supervisor_ends_the_grace_period_now(
        supervisor_factory: Callable[..., Supervisor]):
    """The supervisor passes a later second signal on as well: every worker ends its streams at once."""
    grace = 60.0
    with ScriptedUpstream(sse([chunk(role="assistant", content=""), chunk("Hel"), pause(120),
                               chunk(finish_reason="stop")])) as up:
        sup = supervisor_factory(upstream=up.base_url, grace=grace)
        streams = [Request(sup.url, {"input": "hi", "stream": True}) for _ in range(4)]
        for s in streams:
            s.wait_for("response.output_text.delta")
        sup.proc.send_signal(signal.SIGTERM)
        first = time.monotonic()
        time.sleep(2)
        again = time.monotonic()
        sup.proc.send_signal(signal.SIGTERM)
        assert sup.proc.wait(30) == 0
        ends = [s.last() for s in streams]
    for ended, failed in ends:
        assert failed["type"] == "response.failed"
        assert failed["response"]["error"]["code"] == "server_shutting_down"
        assert again <= ended < first + grace
    assert "Traceback" not in sup.log
