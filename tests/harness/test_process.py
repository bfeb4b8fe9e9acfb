"""run_bounded holds its limits whatever the client does: real processes, real trees.

Every run is guarded by a wall clock (`within`) so a regression fails instead of hanging the
suite, and every client carries a unique marker in its environment so `survivors()` can
find any process of its tree left behind anywhere on the machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from m2m_contract.harness._process import DEFAULT_CAP, ProcessResult, run_bounded
from m2m_contract.harness._pyclient import (
    IMPORT_FAILED,
    USAGE,
    check_importable,
    pyclient_argv,
)

T = TypeVar("T")
PY = [sys.executable, "-I", "-S", "-c"]  # stdlib-only clients, started fast


def within(seconds: float, work: Callable[[], T]) -> T:
    """Run `work` in a thread; fail (instead of hanging the suite) if it does not finish."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def survivors(mark: str) -> list[int]:
    """Pids of live processes whose environment carries `mark`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                environ = Path(f"/proc/{name}/environ").read_bytes()
            except OSError:
                continue
            if f"M2M_TEST_MARK={mark}".encode() in environ.split(b"\0"):
                found.append(int(name))
    return found


def exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # a zombie would still count: it must have been reaped
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def mark() -> Iterator[str]:
    value = uuid.uuid4().hex
    yield value
    for pid in survivors(value):  # never leave a leak behind, even when a test fails
        os.kill(pid, signal.SIGKILL)


def run(
    code: str, mark: str, *, timeout: float = 10.0, guard: float | None = None, **options: Any
) -> ProcessResult:
    env = {**os.environ, "M2M_TEST_MARK": mark, "M2M_X": "x-value"}
    argv = [*PY, textwrap.dedent(code)]
    return within(
        guard or timeout + 15,
        lambda: run_bounded(argv, env=env, timeout=timeout, **options),
    )


def pids_in(result: ProcessResult) -> list[int]:
    return [int(word) for word in result.stdout.text().split() if word.isdigit()]


# A grandchild in a session of its own that prints its pid and keeps the client's stdout.
SETSID_GRANDCHILD = textwrap.dedent(
    """
    import os, sys, time
    ready_r, ready_w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        print(os.getpid(), flush=True)
        os.write(ready_w, b"!")
        time.sleep(60)
        os._exit(0)
    os.read(ready_r, 1)  # the pid is out before the client goes on
    """
)


def test_a_gibibyte_of_output_keeps_the_runner_under_200_mib_and_counts_the_dropped() -> None:
    # Measured in a child python, so this test process's own memory cannot interfere.
    probe = textwrap.dedent(
        """
        import json, os
        from m2m_contract.harness._process import run_bounded

        def peak():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024

        before = peak()
        result = run_bounded(
            ["head", "-c", str(1 << 30), "/dev/zero"], env=dict(os.environ), timeout=90
        )
        kept = result.stdout.head + result.stdout.tail
        print(json.dumps({
            "growth": peak() - before, "exit": result.exit_code, "total": result.stdout.total,
            "dropped": result.stdout.dropped, "kept": len(kept), "zeros": set(kept) == {0},
        }))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["exit"] == 0
    assert figures["growth"] < 200 << 20, figures
    assert figures["total"] == 1 << 30
    assert figures["kept"] == DEFAULT_CAP and figures["zeros"]  # what `head` wrote
    assert figures["dropped"] == (1 << 30) - DEFAULT_CAP


def test_endless_output_under_a_3_s_limit_ends_within_5_s() -> None:
    env = dict(os.environ)
    result = within(20, lambda: run_bounded(["yes"], env=env, timeout=3))
    assert result.timed_out and result.exit_code is None
    assert result.elapsed < 5
    assert result.stdout.total > DEFAULT_CAP
    assert result.stdout.dropped == result.stdout.total - DEFAULT_CAP
    assert result.stdout.head.startswith(b"y\ny\n")


def test_a_setsid_grandchild_holding_stdout_is_killed_and_the_limit_holds(mark: str) -> None:
    result = run(SETSID_GRANDCHILD + "time.sleep(60)", mark, timeout=3)
    assert result.timed_out and result.exit_code is None
    assert result.elapsed < 3 + 1
    [grandchild] = pids_in(result)
    assert not exists(grandchild)
    assert result.leftovers_killed == 1
    assert survivors(mark) == []


def test_a_grandchild_holding_stdout_after_the_client_exits_is_killed_at_once(
    mark: str,
) -> None:
    result = run(SETSID_GRANDCHILD + "sys.exit(0)", mark, timeout=30)
    assert not result.timed_out and result.exit_code == 0
    assert result.elapsed < 10  # not the grandchild's 60 s, not the 30 s limit
    [grandchild] = pids_in(result)
    assert not exists(grandchild)
    assert result.leftovers_killed == 1


def test_a_daemon_with_stdout_on_dev_null_is_gone_when_run_bounded_returns(mark: str) -> None:
    daemon = """
        import os, time
        read, write = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:  # the classic double fork
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.write(write, str(os.getpid()).encode())
                os.close(write)
                time.sleep(60)
            os._exit(0)
        os.close(write)
        print(os.read(read, 64).decode())
    """
    result = run(daemon, mark, timeout=30)
    assert result.exit_code == 0 and not result.timed_out
    [pid] = pids_in(result)
    assert not exists(pid)
    assert result.leftovers_killed == 1
    assert survivors(mark) == []


def test_a_client_ignoring_sigterm_is_killed_at_the_limit(mark: str) -> None:
    stubborn = """
        import signal, time
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        while True:
            time.sleep(0.01)
    """
    result = run(stubborn, mark, timeout=1.5)
    assert result.timed_out and result.exit_code is None
    assert result.elapsed < 1.5 + 1
    assert survivors(mark) == []


def test_a_client_that_stops_itself_is_killed_at_the_limit(mark: str) -> None:
    result = run("import os, signal; os.kill(os.getpid(), signal.SIGSTOP)", mark, timeout=1.5)
    assert result.timed_out and result.elapsed < 1.5 + 1
    assert survivors(mark) == []


def test_a_bounded_fork_loop_is_killed_whole(mark: str) -> None:
    fork_loop = """
        import os, time
        for _ in range(30):  # thirty daemons, each in a session of its own
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    time.sleep(60)
                os._exit(0)
        if os.fork() == 0:  # and one that never keeps a pid: fork, setsid, parent exits
            for _ in range(100_000):
                if os.fork():
                    os._exit(0)
                os.setsid()
            os._exit(0)
        time.sleep(60)
    """
    result = run(fork_loop, mark, timeout=3)
    assert result.timed_out and result.elapsed < 3 + 1
    assert result.leftovers_killed >= 30
    assert survivors(mark) == []


def test_reading_stops_once_the_tree_is_dead_though_an_outsider_holds_stdout(
    mark: str, tmp_path: Path
) -> None:
    # A process outside the client's tree gets the client's stdout over a unix socket
    # (SCM_RIGHTS) and keeps it open: end of file never comes, the run must end anyway.
    socket_path = str(tmp_path / "holder.sock")
    holder = subprocess.Popen(
        [
            *PY,
            textwrap.dedent(
                """
                import os, socket, sys, time
                server = socket.socket(socket.AF_UNIX)
                server.bind(sys.argv[1]); server.listen(1)
                connection, _ = server.accept()
                _, fds, _, _ = socket.recv_fds(connection, 16, 1)
                os.write(fds[0], b"from outside\\n")
                connection.sendall(b"ok")
                time.sleep(60)
                """
            ),
            socket_path,
        ]
    )
    try:
        within(10, lambda: _wait_until(lambda: os.path.exists(socket_path)))
        sender = f"""
            import socket
            client = socket.socket(socket.AF_UNIX)
            client.connect({socket_path!r})
            socket.send_fds(client, [b"x"], [1])
            assert client.recv(2) == b"ok"
        """
        result = run(sender, mark, timeout=30)
        assert result.exit_code == 0 and not result.timed_out
        assert result.elapsed < 10
        assert holder.poll() is None  # still holding the pipe when run_bounded returned
    finally:
        holder.kill()
        holder.wait(timeout=10)


def _wait_until(condition: Callable[[], bool]) -> None:
    while not condition():
        time.sleep(0.01)


def test_head_and_tail_are_kept_around_the_cut(mark: str) -> None:
    whole = bytes(range(256)) * 40
    result = run("import sys; sys.stdout.buffer.write(bytes(range(256)) * 40)", mark, cap=1000)
    out = result.stdout
    assert out.head == whole[:500] and out.tail == whole[-500:]
    assert out.total == len(whole) and out.dropped == len(whole) - 1000
    assert out.data == whole[:500] + b"\n[... 9240 bytes dropped ...]\n" + whole[-500:]


def test_output_within_the_cap_is_kept_whole(mark: str) -> None:
    result = run("print('line 1'); print('line 2')", mark)
    assert result.stdout.data == b"line 1\nline 2\n"
    assert result.stdout.dropped == 0 and result.stdout.total == 14


def test_on_output_sees_every_byte_of_both_streams_kept_or_not(mark: str) -> None:
    code = """
        import hashlib, sys
        block = hashlib.sha256(b"seed").digest() * 2048
        for i in range(48):
            sys.stdout.buffer.write(block)
            sys.stderr.buffer.write(block[: 1000 + i])
    """
    block = hashlib.sha256(b"seed").digest() * 2048
    seen: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    result = run(code, mark, cap=1024, on_output=lambda name, chunk: seen[name].append(chunk))
    assert b"".join(seen["stdout"]) == block * 48
    assert b"".join(seen["stderr"]) == b"".join(block[: 1000 + i] for i in range(48))
    assert result.stdout.total == len(block) * 48
    assert result.stderr.total == sum(1000 + i for i in range(48))
    assert result.stdout.dropped == result.stdout.total - 1024


def test_stdout_and_stderr_are_apart_stdin_is_empty_and_env_is_the_given_one(
    mark: str,
) -> None:
    code = """
        import os, sys
        print("stdin:", repr(sys.stdin.read()), os.environ["M2M_X"], "PATH" in os.environ)
        print("to stderr", file=sys.stderr)
        print("session leader:", os.getsid(0) == os.getpid())
    """
    env = {"M2M_TEST_MARK": mark, "M2M_X": "x-value"}  # not the runner's PATH
    argv = [*PY, textwrap.dedent(code)]
    result = within(30, lambda: run_bounded(argv, env=env, timeout=10))
    assert result.stdout.text() == "stdin: '' x-value False\nsession leader: True\n"
    assert result.stderr.text() == "to stderr\n"
    assert result.exit_code == 0 and result.error is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [("m2m-no-such-command-here", "No such file or directory"), ("", "Permission denied")],
)
def test_a_command_that_cannot_start_is_an_error_not_an_exception(
    name: str, expected: str, tmp_path: Path
) -> None:
    if not name:  # a file that is not executable
        name = str(tmp_path / "data.txt")
        Path(name).write_text("not a program\n")
    argv = [name]
    env = dict(os.environ)
    result = within(20, lambda: run_bounded(argv, env=env, timeout=5))
    assert result.exit_code is None and not result.timed_out
    assert result.error == f"cannot start {argv[0]!r}: {expected}"


def test_a_missing_working_directory_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    env = dict(os.environ)
    result = within(20, lambda: run_bounded(["true"], env=env, timeout=5, cwd=missing))
    assert result.exit_code is None
    assert result.error == f"cannot start 'true': No such file or directory: {missing}"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("pass", 0),
        ("raise SystemExit(3)", 3),
        ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", 128 + 11),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 128 + 9),
    ],
)
def test_exit_status_is_the_clients_and_128_plus_n_for_its_own_signal_n(
    code: str, status: int, mark: str
) -> None:
    result = run(code, mark)
    assert result.exit_code == status and not result.timed_out


def test_six_runs_in_parallel_threads_each_get_their_own_output_and_tree_killed(
    mark: str,
) -> None:
    def one(n: int) -> ProcessResult:
        code = SETSID_GRANDCHILD + (
            f"for _ in range(2000):\n    print('token-{n}')\n"
            f"sys.stdout.flush()\ntime.sleep({60 if n % 2 else 0})\n"
        )
        return run(code, mark, timeout=4, guard=30)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, range(6)))
    for n, result in enumerate(results):
        words = result.stdout.text().split()
        assert {word for word in words if word.startswith("token-")} == {f"token-{n}"}
        assert words.count(f"token-{n}") == 2000
        assert result.timed_out == bool(n % 2) and result.leftovers_killed == 1
        assert result.elapsed < 4 + 1
        [grandchild] = pids_in(result)
        assert not exists(grandchild)
    assert survivors(mark) == []


def test_the_tree_dies_with_the_runner(mark: str) -> None:
    # The runner (a child python) streams the client's output through on_output, then is
    # SIGKILLed mid-run: its supervisor must take the client's whole tree down with it.
    runner = textwrap.dedent(
        f"""
        import os, sys
        from m2m_contract.harness._process import run_bounded
        code = {SETSID_GRANDCHILD + "time.sleep(60)"!r}
        run_bounded(
            [sys.executable, "-c", code], env={{**os.environ, "M2M_TEST_MARK": {mark!r}}},
            timeout=60, on_output=lambda name, chunk: (os.write(1, chunk), None)[1],
        )
        """
    )
    with subprocess.Popen([sys.executable, "-c", runner], stdout=subprocess.PIPE) as process:
        try:
            assert process.stdout is not None
            grandchild = int(within(30, process.stdout.readline))
            assert exists(grandchild)
        finally:
            process.kill()
    within(10, lambda: _wait_until(lambda: not exists(grandchild) and not survivors(mark)))


def test_a_supervisor_killed_mid_run_leaves_an_error_and_no_client(mark: str) -> None:
    def kill_the_supervisor(name: str, chunk: bytes) -> None:
        os.kill(int(chunk), signal.SIGKILL)  # the client printed its parent's pid

    code = "import os, time; print(os.getppid(), flush=True); time.sleep(60)"
    result = run(code, mark, timeout=30, on_output=kill_the_supervisor)
    assert result.error == "the client's supervisor stopped without a result"
    assert result.exit_code is None and result.elapsed < 10
    within(10, lambda: _wait_until(lambda: not survivors(mark)))


def test_a_stuck_supervisor_does_not_stretch_the_limit(mark: str) -> None:
    def freeze_the_supervisor(name: str, chunk: bytes) -> None:
        os.kill(int(chunk), signal.SIGSTOP)  # the client printed its parent's pid

    code = "import os, time; print(os.getppid(), flush=True); time.sleep(60)"
    result = run(code, mark, timeout=2, on_output=freeze_the_supervisor)
    assert result.timed_out and result.exit_code is None and result.error is None
    assert result.elapsed < 2 + 1
    within(10, lambda: _wait_until(lambda: not survivors(mark)))


def test_an_on_output_that_raises_propagates_and_leaves_no_process(mark: str) -> None:
    def refuse(name: str, chunk: bytes) -> None:
        raise RuntimeError("scanner failed")

    with pytest.raises(RuntimeError, match="scanner failed"):
        run(SETSID_GRANDCHILD + "print('x', flush=True); time.sleep(60)", mark, on_output=refuse)
    assert survivors(mark) == []


def test_captured_and_results_repr_show_sizes_never_output(mark: str) -> None:
    result = run("print('secret-looking-output')", mark)
    assert "secret-looking-output" not in repr(result)
    assert "Captured(total=22, dropped=0)" in repr(result)


# The `--client-py` entry point: a Python function run as a client process of its own.

PARTNER = """
import logging, os, sys, threading, time

NOT_CALLABLE = 1

def quiet(env):
    print("hello", env["M2M_X"], env is os.environ)

def four(env):
    return 4

def exits(env):
    sys.exit(5)

def exits_with_text(env):
    sys.exit("giving up")

def boom(env):
    raise ValueError("boom")

def everywhere(env):
    worker = threading.Thread(target=lambda: print("from a worker thread", flush=True))
    worker.start()
    worker.join()
    os.write(1, b"from os.write\\n")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("partner").info("from logging")
    sys.__stdout__.write("from sys.__stdout__\\n")
    threading.Thread(target=lambda: (time.sleep(0.2), print("after return"))).start()
"""


@pytest.fixture
def partner(tmp_path: Path) -> Path:
    (tmp_path / "partner.py").write_text(PARTNER)
    (tmp_path / "broken.py").write_text("raise RuntimeError('no config\\nat all')\n")
    return tmp_path


def run_py(target: str, cwd: Path, argv: list[str] | None = None) -> ProcessResult:
    env = {**os.environ, "M2M_X": "x-value"}
    command = argv or pyclient_argv(target)
    return within(60, lambda: run_bounded(command, env=env, timeout=30, cwd=str(cwd)))


@pytest.mark.parametrize(
    ("function", "status", "stderr"),
    [
        ("quiet", 0, ""),
        ("four", 4, ""),
        ("exits", 5, ""),
        ("exits_with_text", 1, "giving up\n"),
        ("boom", 1, "ValueError: boom\n"),
    ],
)
def test_pyclient_exit_status_is_the_functions_as_the_interpreter_makes_it(
    partner: Path, function: str, status: int, stderr: str
) -> None:
    result = run_py(f"partner:{function}", partner)
    assert (result.exit_code, result.stderr.text()) == (status, stderr)


def test_pyclient_calls_the_function_with_the_given_environment(partner: Path) -> None:
    result = run_py("partner:quiet", partner)
    assert result.stdout.text() == "hello x-value True\n"


def test_pyclient_captures_threads_raw_fds_logging_and_dunder_stdout(partner: Path) -> None:
    result = run_py("partner:everywhere", partner)
    assert result.exit_code == 0
    assert result.stdout.text().splitlines() == [
        "from a worker thread",
        "from os.write",
        "from sys.__stdout__",
        "after return",  # a non-daemon thread still runs to its end, as in the interpreter
    ]
    assert result.stderr.text() == "from logging\n"


def test_pyclient_runs_as_python_dash_m_too(partner: Path) -> None:
    argv = [sys.executable, "-m", "m2m_contract.harness._pyclient", "partner:four"]
    result = run_py("", partner, argv)
    assert result.exit_code == 4, result.stderr.text()


@pytest.mark.parametrize(
    ("target", "status", "message"),
    [
        (
            "no_such_module:run",
            IMPORT_FAILED,
            "cannot import 'no_such_module' (ModuleNotFoundError: No module named "
            "'no_such_module')",
        ),
        ("broken:run", IMPORT_FAILED, "cannot import 'broken' (RuntimeError: no config at all)"),
        ("partner:NOT_CALLABLE", IMPORT_FAILED, "'partner' has no callable 'NOT_CALLABLE'"),
        ("partner", USAGE, "the target must be module:function, not 'partner'"),
    ],
)
def test_pyclient_that_cannot_load_its_target_says_why_in_one_line(
    partner: Path, target: str, status: int, message: str
) -> None:
    result = run_py(target, partner)
    assert result.exit_code == status
    assert result.stderr.text() == message + "\n"
    assert within(60, lambda: check_importable(target, str(partner))) == message


def test_check_importable_accepts_a_callable_without_calling_it(partner: Path) -> None:
    assert within(60, lambda: check_importable("partner:boom", str(partner))) is None


def test_setting_stop_ends_the_run_at_once_like_the_limit(mark: str) -> None:
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    env = {**os.environ, "M2M_TEST_MARK": mark}
    started = time.monotonic()
    result = within(
        20, lambda: run_bounded([sys.executable, "-c", "import time; time.sleep(60)"],
                                env=env, timeout=30, stop=stop)
    )
    assert result.timed_out and result.exit_code is None
    assert time.monotonic() - started < 0.5 + 1
    assert survivors(mark) == []
