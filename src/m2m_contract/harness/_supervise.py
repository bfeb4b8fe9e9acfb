"""The per-client supervisor: start one client, adopt its orphans, kill its whole tree.

`_process.run_bounded` starts one of these per client as `python -I -S _supervise.py`
(stdlib only, so it starts in a few tens of milliseconds and no PYTHON* variable of the
client's environment can change it). One process per client means no state is shared
between clients running side by side, and the runner itself never reaps, never handles
SIGCHLD and never becomes a subreaper.

Protocol, all over pipes the runner owns:

- stdin (control): one JSON line, the spec `{"argv", "env", "cwd", "deadline", "stdout",
  "stderr", "parent"}` (the environment travels here, not in argv, so it never shows in
  `ps`); after it, any byte or end of file means "stop now" (the runner gave up or died).
- stdout (status): JSON lines, `{"started": pid}` then `{"done": {...}}`.
- the `stdout`/`stderr` descriptors named in the spec become the client's fds 1 and 2; the
  supervisor closes its own copies at once, so the runner sees end of file once the tree
  is dead.

Linux: the supervisor is a child subreaper (`PR_SET_CHILD_SUBREAPER`), so every orphan of
the client's tree (`setsid`, double fork, daemons) is re-parented to it and stays findable
through /proc; at the deadline, on a stop request, and as soon as the client exits by
itself, every descendant is sent SIGKILL and reaped. `PR_SET_PDEATHSIG` stops it (and so
kills the tree) if the runner's thread goes away; the client gets SIGKILL if the supervisor
itself is killed. Without prctl (not Linux) only the client's process group is killed, so a
descendant that left the group with `setsid` can survive there.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import math
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["main"]

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
# Seconds allowed to kill and reap the tree; a process stuck in the kernel (state D) keeps
# its pending SIGKILL and dies when it returns, but is not waited for beyond this.
KILL_BUDGET = 0.3

Prctl = Callable[[int, int, int, int, int], int]


def _load_prctl() -> Prctl | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    prctl.restype = ctypes.c_int
    function: Prctl = prctl
    return function


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state letter) of `pid`, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            data = file.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()  # the name in parentheses may hold spaces
    return int(fields[1]), fields[0].decode("ascii", "replace")


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as file:
                kids.extend(int(kid) for kid in file.read().split())
        except OSError:
            continue
    return kids


def _children_from_a_scan() -> Callable[[int], list[int]]:
    """Without CONFIG_PROC_CHILDREN: one pass over /proc gives every process's children."""
    by_parent: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):  # no /proc at all: no children found
        for name in os.listdir("/proc"):
            stat = _stat(int(name)) if name.isdigit() else None
            if stat is not None:
                by_parent.setdefault(stat[0], []).append(int(name))
    return lambda pid: by_parent.get(pid, [])


def _has_children_files() -> bool:
    return os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _walk(root: int, children_files: bool) -> Iterator[tuple[int, int, str]]:
    """Every descendant of `root`, parents first, as (pid, parent pid, state), lazily.

    Lazily, so the caller can kill each process before its children are even listed.
    """
    listed = _children if children_files else _children_from_a_scan()
    seen = {root}
    queue = [root]
    while queue:
        parent = queue.pop()
        for kid in listed(parent):
            stat = None if kid in seen else _stat(kid)
            if stat is None or stat[0] not in (parent, root):
                continue  # gone, or no longer ours (its pid now names someone else)
            seen.add(kid)
            yield kid, parent, stat[1]
            if stat[1] not in ("Z", "X"):  # a zombie has no children left
                queue.append(kid)


def _kill(pid: int, parents: tuple[int, ...]) -> bool:
    """SIGKILL `pid` if its parent is still one of `parents` (its pid was not reused)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    except (AttributeError, OSError):  # no pidfd: a plain kill, with its tiny reuse race
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            return False
        return True
    try:
        stat = _stat(pid)  # the pidfd pins the process: check it is the one we found
        if stat is None or stat[0] not in parents:
            return False
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        return True
    except OSError:
        return False
    finally:
        os.close(pidfd)


class _Supervisor:
    def __init__(self, spec: dict[str, Any], prctl: Prctl | None, subreaper: bool) -> None:
        self.spec = spec
        self.prctl = prctl
        self.subreaper = subreaper
        self.pid = os.getpid()
        self.client = 0
        self.client_status: int | None = None
        self.stop = False
        self.children_files = _has_children_files()
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake poll() through the fd
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(signum, self._on_stop)

    def _on_stop(self, *_: object) -> None:
        self.stop = True

    def _child_setup(self) -> None:
        # Runs in the forked client before exec: die with the supervisor, even if it is
        # SIGKILLed, and do not start at all if it is already gone.
        if self.prctl is not None:
            self.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != self.pid:
            os._exit(137)

    def start(self) -> str | None:
        argv: list[str] = self.spec["argv"]
        out_fd: int = self.spec["stdout"]
        err_fd: int = self.spec["stderr"]
        try:
            process = subprocess.Popen(
                argv,
                env=self.spec["env"],
                cwd=self.spec["cwd"],
                stdin=subprocess.DEVNULL,
                stdout=out_fd,
                stderr=err_fd,
                start_new_session=True,
                preexec_fn=self._child_setup,
            )
        except OSError as exc:
            why = _why_not(argv[0], self.spec["env"], self.spec["cwd"], exc)
            if why is not None:
                return f"cannot start {argv[0]!r}: {why}"
            where = f": {exc.filename}" if exc.filename not in (None, argv[0]) else ""
            return f"cannot start {argv[0]!r}: {exc.strerror}{where}"
        except (ValueError, subprocess.SubprocessError) as exc:
            return f"cannot start {argv[0]!r}: {exc}"
        finally:
            os.close(out_fd)
            os.close(err_fd)
        process.returncode = 0  # reaped below with waitpid(-1), never by Popen
        self.client = process.pid
        return None

    def reap(self) -> None:
        """Reap every dead child (the client and adopted orphans) without blocking."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.client:
                self.client_status = status

    def wait(self) -> bool:
        """Wait for the client to exit, the deadline or a stop request; True if timed out."""
        poller = select.poll()
        poller.register(0, select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        deadline: float = self.spec["deadline"]
        while True:
            self.reap()
            if self.client_status is not None:
                return False
            remaining = deadline - time.monotonic()
            if self.stop or remaining <= 0:
                return True
            for fd, _ in poller.poll(math.ceil(min(remaining, 60.0) * 1000)):
                if fd == 0:
                    self.stop = True  # a byte, end of file or POLLHUP: all mean stop
                else:
                    _drain(self.wake_r)

    def kill_tree(self) -> int:
        """SIGKILL and reap every descendant; how many live ones, the client aside."""
        killed: set[int] = set()
        until = time.monotonic() + KILL_BUDGET
        poller = select.poll()
        poller.register(self.wake_r, select.POLLIN)
        while True:
            self.reap()
            if self.client_status is None or not self.subreaper:
                # The fast path, and the only one without a subreaper. Once the client is
                # reaped its pid could name someone else's group: the tree walk is enough.
                with contextlib.suppress(OSError):
                    os.killpg(self.client, signal.SIGKILL)
            found = 0
            for pid, parent, state in _walk(self.pid, self.children_files):
                found += 1
                # Killed as found, before its children are listed: a fork loop cannot
                # outrun the walk. Orphans of the killed are ours: self.pid is a parent too.
                live = state not in ("Z", "X")
                if live and pid not in killed and _kill(pid, (parent, self.pid)):
                    killed.add(pid)
            if not found or time.monotonic() >= until:
                return len(killed - {self.client})
            poller.poll(5)
            _drain(self.wake_r)

    def exit_code(self) -> int | None:
        if self.client_status is None:
            return None
        code = os.waitstatus_to_exitcode(self.client_status)
        return 128 - code if code < 0 else code  # killed by its own signal N -> 128 + N


def _why_not(program: str, env: dict[str, str], cwd: str | None, exc: OSError) -> str | None:
    """What the kernel's errno means when the program itself exists: ENOENT or EACCES
    then come from the interpreter on its #! line, ENOEXEC from a file that is neither."""
    if exc.errno not in (errno.ENOENT, errno.EACCES, errno.ENOEXEC):
        return None
    if exc.filename not in (None, program):
        return None  # about the working directory, not the program
    import shutil  # only on this error path: the supervisor starts with few imports

    found = program if os.sep in program else shutil.which(program, path=env.get("PATH"))
    if found is None:
        return None
    found = os.path.join(cwd, found) if cwd else found
    try:
        with open(found, "rb") as file:
            first = file.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        if exc.errno == errno.ENOEXEC:
            return ("Exec format error: not a program this machine runs, and no #! line "
                    "(a script needs one, e.g. #!/bin/sh)")
        return None
    words = first[2:].split()
    if not words:
        return "its #! line names no interpreter"
    interpreter = os.fsdecode(words[0])
    if exc.errno == errno.ENOENT:
        return f"the interpreter on its #! line, {interpreter!r}, does not exist"
    if exc.errno == errno.EACCES and os.access(found, os.X_OK):
        return f"the interpreter on its #! line, {interpreter!r}, is not executable"
    return None


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _read_spec() -> dict[str, Any] | None:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(0, 1 << 16)
        if not chunk:
            return None
        data += chunk
    spec: dict[str, Any] = json.loads(data)
    return spec


def _send(message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):  # the runner is gone; the tree is killed all the same
        os.write(1, json.dumps(message).encode() + b"\n")


def main() -> int:
    prctl = _load_prctl()
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    spec = _read_spec()
    if spec is None or os.getppid() != spec["parent"]:
        return 0  # the runner died before PDEATHSIG could take hold
    # Linux >= 3.4; if refused, orphans go to init and only the client's group is reached.
    subreaper = prctl is not None and prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    supervisor = _Supervisor(spec, prctl, subreaper)
    error = supervisor.start()
    if error is not None:
        _send({"done": {"exit_code": None, "timed_out": False, "leftovers": 0, "error": error}})
        return 0
    _send({"started": supervisor.client})
    timed_out = supervisor.wait()
    leftovers = supervisor.kill_tree()
    exit_code = None if timed_out else supervisor.exit_code()
    _send(
        {
            "done": {
                "exit_code": exit_code,
                "timed_out": timed_out,
                "leftovers": leftovers,
                "error": None,
            }
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
