"""Run a client program with limits it cannot break: time, memory of its output, its tree.

`run_bounded` starts the program under its own supervisor process (`_supervise.py`), in a
new session, stdin from /dev/null, stdout and stderr on two pipes read here. The
supervisor is a child subreaper on Linux: it adopts every orphan of the client's tree and,
at the limit or as soon as the client exits, SIGKILLs and reaps all of them, so nothing the
client started outlives the call. Reading stops once the supervisor reports the tree dead,
even if a descriptor leaked elsewhere still holds a pipe open. Output is kept as a head and
a tail, so memory stays bounded whatever the volume.

Each call has its own pipes and its own supervisor and this process never reaps a pid it did
not start: calls from several threads at once are independent.

POSIX only. On a platform without prctl (not Linux) the supervisor can only kill the
client's process group: a descendant that left it (setsid, daemons) is not found there.
What no supervisor can catch: work handed to a process outside the tree (at, systemd-run,
ssh to localhost; that would take a cgroup or a pid namespace), and a process stuck in the
kernel (state D), which keeps its pending SIGKILL and dies when it returns.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_CAP", "STOPPED_BEFORE_START", "Captured", "ProcessResult", "run_bounded"]

DEFAULT_CAP = 1 << 20  # bytes kept per stream (stdout and stderr each)
SUPERVISOR = str(Path(__file__).with_name("_supervise.py"))
_CHUNK = 1 << 16
# After the deadline: ask the supervisor to stop at +_ASK, give up on it at +_GIVE_UP.
# It kills at the deadline itself; these only matter if it is stuck or dead.
_ASK = 0.4
_GIVE_UP = 0.8
_DRAIN = 0.1  # seconds to read what the dead tree left in the pipes
_STOP_POLL = 0.05  # how often a run with a `stop` event looks at it
STOPPED_BEFORE_START = "not started: the run was stopped before it began"

OutputHook = Callable[[str, bytes], None]


@dataclass(frozen=True, repr=False)
class Captured:
    """One stream's output, bounded: the first and last bytes, and how much there was."""

    head: bytes
    tail: bytes  # empty unless the stream carried more than the head holds
    total: int  # bytes the stream carried

    @property
    def dropped(self) -> int:
        """Bytes between head and tail that were not kept."""
        return self.total - len(self.head) - len(self.tail)

    @property
    def data(self) -> bytes:
        """Head and tail, with a marker line between them when bytes were dropped."""
        if not self.dropped:
            return self.head + self.tail
        return self.head + b"\n[... %d bytes dropped ...]\n" % self.dropped + self.tail

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    def __repr__(self) -> str:  # sizes only: a client's output may hold a secret
        return f"Captured(total={self.total}, dropped={self.dropped})"


@dataclass(frozen=True)
class ProcessResult:
    """How a bounded run ended.

    `exit_code` is the status of a normal exit, 128 + N when the client was killed by
    signal N it did not get from us (its own SIGSEGV gives 139), and None when it was
    killed at the limit (`timed_out`) or could not start (`error` says why).
    `leftovers_killed` counts the client's descendants still alive when it exited (or, on
    a timeout, when it was killed), all killed.
    """

    exit_code: int | None
    timed_out: bool
    stdout: Captured
    stderr: Captured
    elapsed: float
    error: str | None = None
    leftovers_killed: int = 0


class _Keeper:
    """Keeps the first cap//2 bytes and the last cap - cap//2 of a stream."""

    def __init__(self, cap: int) -> None:
        self.head_cap = cap // 2
        self.tail_cap = cap - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self.tail_cap:
            self.tail += chunk[-self.tail_cap :]
            excess = len(self.tail) - self.tail_cap
            if excess > 0:
                del self.tail[:excess]

    def result(self) -> Captured:
        return Captured(bytes(self.head), bytes(self.tail), self.total)


class _Run:
    """The descriptors and the supervisor of one call; `close()` always leaves nothing."""

    def __init__(self, cap: int, on_output: OutputHook | None) -> None:
        self.on_output = on_output
        self.keepers = {"stdout": _Keeper(cap), "stderr": _Keeper(cap)}
        self.streams: dict[int, str] = {}
        self.fds: list[int] = []
        self.supervisor: subprocess.Popen[bytes] | None = None
        self.ctl = -1
        self.status = -1
        self.client = 0
        self.pending = b""  # the spec, until the supervisor has read it all
        self.status_data = b""
        self.done: dict[str, Any] | None = None

    def _pipe(self) -> tuple[int, int]:
        read, write = os.pipe()
        self.fds += [read, write]
        return read, write

    def _close(self, fd: int) -> None:
        if fd in self.fds:
            self.fds.remove(fd)
            os.close(fd)

    def start(self, spec: dict[str, Any]) -> str | None:
        try:
            out_r, out_w = self._pipe()
            err_r, err_w = self._pipe()
            ctl_r, self.ctl = self._pipe()
            self.status, status_w = self._pipe()
        except OSError as exc:  # out of descriptors
            return f"cannot start {spec['argv'][0]!r}: {exc.strerror}"
        self.streams = {out_r: "stdout", err_r: "stderr"}
        try:
            self.supervisor = subprocess.Popen(
                [sys.executable, "-I", "-S", SUPERVISOR],
                stdin=ctl_r,
                stdout=status_w,
                pass_fds=(out_w, err_w),
                start_new_session=True,  # a Ctrl-C for the runner is the runner's to handle
            )
        except OSError as exc:
            return f"cannot start the client's supervisor: {exc.strerror}"
        finally:
            for fd in (out_w, err_w, ctl_r, status_w):
                self._close(fd)
        spec.update(stdout=out_w, stderr=err_w, parent=os.getpid())
        self.pending = json.dumps(spec).encode() + b"\n"
        os.set_blocking(self.ctl, False)
        return None

    def _feed(self, fd: int, chunk: bytes) -> None:
        name = self.streams[fd]
        self.keepers[name].feed(chunk)
        if self.on_output is not None:
            self.on_output(name, chunk)

    def _on_status(self, data: bytes) -> None:
        *lines, self.status_data = (self.status_data + data).split(b"\n")
        for line in lines:
            message = json.loads(line)
            if "started" in message:
                self.client = int(message["started"])
            if "done" in message:
                self.done = message["done"]

    def pump(self, deadline: float, stop: threading.Event | None = None) -> None:
        """Read until the supervisor reports the tree dead, or give up on it; `stop` set
        ends the run early, as reaching the deadline would."""
        poller = select.poll()
        for fd in self.streams:
            poller.register(fd, select.POLLIN)
        poller.register(self.status, select.POLLIN)
        poller.register(self.ctl, select.POLLOUT)
        while self.done is None:
            now = time.monotonic()
            if stop is not None and stop.is_set() and deadline > now:
                deadline = now - _ASK  # as if the limit had been reached: ask it to stop now
            if now >= deadline + _GIVE_UP:
                return
            if now >= deadline + _ASK and self.ctl in self.fds:
                if self.pending:
                    poller.unregister(self.ctl)
                self._close(self.ctl)  # end of file on its stdin: "stop now"
            until = deadline + (_GIVE_UP if self.ctl not in self.fds else _ASK)
            wait = min(max(until - now, 0.0), 60.0 if stop is None else _STOP_POLL)
            for fd, event in poller.poll(math.ceil(wait * 1000)):
                if fd == self.ctl:
                    self._send(event)
                    if not self.pending:
                        poller.unregister(fd)  # the spec is sent (or the reader is gone)
                elif fd == self.status:
                    data = os.read(fd, _CHUNK)
                    if not data:
                        return  # the supervisor died without a word
                    self._on_status(data)
                else:
                    chunk = os.read(fd, _CHUNK)
                    if chunk:
                        self._feed(fd, chunk)
                    else:
                        poller.unregister(fd)
                        self._close(fd)
                        del self.streams[fd]

    def _send(self, event: int) -> None:
        """Write more of the spec to the supervisor."""
        if event & (select.POLLERR | select.POLLHUP):
            self.pending = b""  # the supervisor is gone; its status pipe says so too
            return
        try:
            self.pending = self.pending[os.write(self.ctl, self.pending) :]
        except BlockingIOError:
            pass
        except BrokenPipeError:
            self.pending = b""

    def drain(self) -> None:
        """Read what the dead tree left in the pipes; stop even if a writer remains."""
        until = time.monotonic() + _DRAIN
        for fd in list(self.streams):
            os.set_blocking(fd, False)
            with contextlib.suppress(BlockingIOError):
                while time.monotonic() < until and (chunk := os.read(fd, _CHUNK)):
                    self._feed(fd, chunk)

    def kill(self) -> None:
        """The supervisor hung or died: kill it and what can be reached of the tree."""
        if self.supervisor is not None:
            self.supervisor.kill()
            self.supervisor.wait()
        if self.client:
            # Its direct child got SIGKILL through PDEATHSIG; the client's session is
            # what can still be reached from here.
            with contextlib.suppress(OSError):
                os.killpg(self.client, signal.SIGKILL)

    def close(self) -> None:
        """Stop the supervisor (which kills the tree), then close every descriptor."""
        self._close(self.ctl)  # end of file on its stdin: "stop now", if still running
        if self.supervisor is not None:
            try:
                self.supervisor.wait(timeout=_GIVE_UP)
            except subprocess.TimeoutExpired:
                self.kill()
        for fd in list(self.fds):
            self._close(fd)


def run_bounded(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    cap: int = DEFAULT_CAP,
    on_output: OutputHook | None = None,
    cwd: str | None = None,
    stop: threading.Event | None = None,
) -> ProcessResult:
    """Run `argv` to completion or to `timeout` seconds, whichever comes first.

    The limit counts from this call and holds within about a second whatever the program
    does; setting `stop` (from another thread: a Ctrl-C, a budget) ends the run the same
    way, at once, and a `stop` already set starts nothing (`error` says so). `cap`
    bytes are kept of each stream (half head, half tail); `on_output(name,
    chunk)` sees every chunk read, kept or not; an exception it raises propagates once the
    tree is dead. A program that cannot start gives a result with `error` set, never an
    exception.
    """
    if not argv:
        raise ValueError("argv is empty")
    if cap < 0:
        raise ValueError("cap must be >= 0")
    start = time.monotonic()
    if stop is not None and stop.is_set():
        nothing = Captured(b"", b"", 0)
        return ProcessResult(None, False, nothing, nothing, 0.0, error=STOPPED_BEFORE_START)
    deadline = start + timeout
    run = _Run(cap, on_output)
    try:
        # CLOCK_MONOTONIC is system-wide: the deadline means the same in the supervisor.
        error = run.start({"argv": list(argv), "env": dict(env), "cwd": cwd, "deadline": deadline})
        if error is None:
            run.pump(deadline, stop)
            if run.done is None:
                run.kill()
            run.drain()
    finally:
        run.close()
    done = run.done or {}
    timed_out = bool(done.get("timed_out", False))
    if error is None and run.done is None:
        if time.monotonic() >= deadline + _GIVE_UP:
            timed_out = True  # the supervisor did not kill in time; we did
        else:
            error = "the client's supervisor stopped without a result"
    return ProcessResult(
        exit_code=done.get("exit_code"),
        timed_out=timed_out,
        stdout=run.keepers["stdout"].result(),
        stderr=run.keepers["stderr"].result(),
        elapsed=time.monotonic() - start,
        error=done.get("error", error),
        leftovers_killed=int(done.get("leftovers", 0)),
    )
