"""One service per data dir, a clear refusal for a second one, and nothing a dead run left
behind survives the next start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from serve_app.process import children, instance

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_second_holder_of_the_data_dir_is_refused(tmp_path):
    refused = pytest.raises(instance.AlreadyRunning, match="already running")
    with instance.exclusive(tmp_path), refused, instance.exclusive(tmp_path):
        pass
    with instance.exclusive(tmp_path):  # free again once the first is done
        pass


def test_leftovers_are_found_by_their_mark_and_stopped(tmp_path):
    env = {**os.environ, **instance.marked(tmp_path)}
    stray = subprocess.Popen(SLEEPER, env=env)
    other = subprocess.Popen(SLEEPER)  # not this data dir's: left alone
    try:
        assert instance.leftovers(tmp_path) == [stray.pid]
        assert instance.clean_up(tmp_path) == [stray.pid]
        assert stray.wait(5) == -signal.SIGKILL
        assert other.poll() is None
    finally:
        other.kill()


def test_a_child_dies_with_the_process_that_started_it(tmp_path):
    parent = (
        "import sys, signal; from serve_app.process import children; "
        f"c = children.start({SLEEPER!r}, signal.SIGTERM); print(c.pid, flush=True); "
        "import time; time.sleep(60)"
    )
    runner = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    child = int(runner.stdout.readline())
    assert os.getpgid(child) == child  # a process group of its own: Ctrl-C does not reach it
    runner.kill()  # even SIGKILL
    runner.wait()
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def run_photoserve(tmp_path, port: int, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSERVE_")}
    env.update(PHOTOSERVE_DATA_DIR=str(tmp_path), PHOTOSERVE_PORT=str(port), **extra)
    command = [sys.executable, "-m", "serve_app.process.cli", "run"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_a_second_run_on_the_same_data_dir_says_so_and_starts_nothing(tmp_path):
    with instance.exclusive(tmp_path.resolve()):
        done = run_photoserve(tmp_path, 1)
    assert done.returncode == 1
    assert "already running with the data dir" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "redis").exists()


def test_a_taken_port_is_said_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = run_photoserve(tmp_path, taken.getsockname()[1])
    assert done.returncode == 1 and "is taken" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "redis").exists()


@pytest.mark.parametrize(
    ("models", "setting", "said"),
    [
        ("realesr-animevideov3:\n    parallel_tiles: two", {}, "parallel_tiles must be a whole"),
        ("fast:\n    ncnn_storage: bf16", {}, "use its name, not its alias"),
        ("[", {}, "not valid YAML at line"),
        ("{}", {"PHOTOSERVE_CLAIM_IDLE_S": "0"}, "PHOTOSERVE_CLAIM_IDLE_S: Input should be"),
        ("{}", {"PHOTOSERVE_DEADLINES": "{upscale"}, "PHOTOSERVE_DEADLINES: not valid JSON"),
        ("{}", {"PHOTOSERVE_PLANS_FILE": "no-such.yaml"}, "no-such.yaml: cannot be read"),
    ],
)
def test_a_configuration_mistake_is_one_line_before_anything_starts(
    tmp_path, models, setting, said
):
    user = tmp_path / "mine.yaml"
    user.write_text(f"models:\n  {models}\n")
    done = run_photoserve(tmp_path, 1, PHOTOSERVE_MODELS=str(user), **setting)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("photoserve: configuration: ") and said in done.stderr
    assert len(done.stderr.splitlines()) == 1 and str(tmp_path) not in done.stderr
    assert not (tmp_path / "redis").exists()


def test_a_bad_serve_profile_is_one_line_before_anything_starts(tmp_path):
    profile = tmp_path / "profile.yaml"
    profile.write_text("proxy_location: EveryNode\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSERVE_")}
    env.update(PHOTOSERVE_DATA_DIR=str(tmp_path), PHOTOSERVE_PORT="1")
    command = [sys.executable, "-m", "serve_app.process.cli", "run", "--config", str(profile)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and not (tmp_path / "redis").exists()
    said = "photoserve: configuration: profile.yaml: expected `applications` with one application"
    assert done.stderr.strip() == said


def test_kill_group_of_a_gone_group_is_not_an_error():
    process = subprocess.Popen(["true"], start_new_session=True)
    process.wait()
    assert children.kill_group(process.pid) is False
