"""Serve's parts forked from serve (hotline/child_process.py) start as new processes would.

Each case runs in a fresh Python process standing in for serve (a test worker's own exit
handlers and threads are not serve's), which forks parts as serve does and prints what it saw.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# A stand-in for serve: a stop handler, a locked file, a clean-up in the frame it forks from.
SERVE = textwrap.dedent(
    """
    import atexit, fcntl, json, os, signal, subprocess, sys, time
    from pathlib import Path
    from hotline.child_process import fork_child

    home = Path(sys.argv[1])
    seen = {}
    signal.signal(signal.SIGTERM, lambda *_: None)
    lock = (home / "serve.lock").open("a")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def forget():
        lock.close()

    def part():
        atexit.register(lambda: (home / "part-exit-handler").write_text("ran"))
        (home / "part.json").write_text(json.dumps({
            "argv": sys.argv, "env": dict(os.environ), "pgid": os.getpgid(0),
            "pid": os.getpid(), "sigterm": repr(signal.getsignal(signal.SIGTERM)),
        }))
        return 3

    def waits_for_sigterm():
        (home / "waiting").write_text("")
        while True:
            time.sleep(60)

    try:
        child = fork_child(part, ["hotline", "part", "--flag"], {"ONLY": "this"}, forget=forget)
        seen["code"] = child.wait(timeout=30)
        seen["child_pid"] = child.pid

        stopped = fork_child(waits_for_sigterm, ["waiter"], {}, forget=forget)
        deadline = time.monotonic() + 30
        while not (home / "waiting").exists():
            assert time.monotonic() < deadline, "the part never started"
            time.sleep(0.01)
        seen["poll_running"] = stopped.poll()
        try:
            stopped.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            seen["timed_out"] = True
        # Serve lets go of its lock: nobody holds it while the part runs on.
        lock.close()
        probe = (home / "serve.lock").open("a")
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        seen["lock_free_while_part_runs"] = stopped.poll() is None
        stopped.terminate()
        seen["terminated"] = stopped.wait(timeout=30)

        seen["message"] = fork_child(lambda: sys.exit("cannot go on"), ["m"], {}).wait(30)
        seen["raised"] = fork_child(lambda: 1 / 0, ["r"], {}).wait(30)
        seen["none"] = fork_child(lambda: None, ["n"], {}).wait(30)
        killed = fork_child(waits_for_sigterm, ["k"], {})
        killed.kill()
        seen["killed"] = killed.wait(30)
    finally:
        with (home / "serve-cleanup").open("a") as cleanup:
            cleanup.write(f"{os.getpid()} ")
    seen["serve_pid"] = os.getpid()
    print(json.dumps(seen))
    """
)


def run_serve_stand_in(home: Path) -> tuple[dict, str]:
    """Run the stand-in for serve; return what it saw and its stderr."""
    done = subprocess.run(
        [sys.executable, "-c", SERVE, str(home)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_a_forked_part_starts_as_a_new_process_and_ends_with_its_own_exit(tmp_path: Path) -> None:
    seen, stderr = run_serve_stand_in(tmp_path)
    part = json.loads((tmp_path / "part.json").read_text())

    assert seen["code"] == 3
    assert part["argv"] == ["hotline", "part", "--flag"]
    assert part["env"] == {"ONLY": "this"}
    # Its own process group, so serve can kill whatever it leaves behind.
    assert part["pgid"] == part["pid"] == seen["child_pid"]
    # The default handling of SIGTERM, not serve's handler.
    assert part["sigterm"] == "<Handlers.SIG_DFL: 0>"
    # Its exit handlers ran; serve's clean-up ran once, in serve alone.
    assert (tmp_path / "part-exit-handler").read_text() == "ran"
    assert (tmp_path / "serve-cleanup").read_text().split() == [str(seen["serve_pid"])]


def test_a_forked_part_is_waited_for_stopped_and_killed_as_a_popen_is(tmp_path: Path) -> None:
    seen, stderr = run_serve_stand_in(tmp_path)

    assert seen["poll_running"] is None
    assert seen["timed_out"] is True
    assert seen["lock_free_while_part_runs"] is True
    assert seen["terminated"] == -15
    assert seen["killed"] == -9
    # As `sys.exit` and an uncaught exception end a process: the message or traceback, then 1.
    assert seen["message"] == 1 and "cannot go on" in stderr
    assert seen["raised"] == 1 and "ZeroDivisionError" in stderr
    assert seen["none"] == 0
