from __future__ import annotations

import socket
import stat
from pathlib import Path

from serve_app.core.settings import CONFIGS, Settings
from serve_app.process import local_state, runner


def test_serve_config_takes_host_and_port():
    config = runner.serve_config(CONFIGS / "serve.cpu.yaml", "0.0.0.0", 9123)
    assert config["http_options"] == {"host": "0.0.0.0", "port": 9123}
    assert config["applications"][0]["import_path"] == "serve_app.app:app"


def test_a_port_is_taken_by_a_listener_not_by_connections_of_a_stopped_one():
    """Right after a stop the port's closed connections linger in TIME_WAIT: a restart then
    was refused with "is taken (another photoserve?)" for a minute."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    assert runner.port_taken("127.0.0.1", port)
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server closes first: its side waits in TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    assert not runner.port_taken("127.0.0.1", port)


def test_secrets_are_generated_once_and_private(tmp_path):
    first, created = local_state.ensure_secrets(tmp_path)
    second, created_again = local_state.ensure_secrets(tmp_path)
    assert created and not created_again and first == second
    mode = stat.S_IMODE((tmp_path / local_state.SECRETS_FILE).stat().st_mode)
    assert mode == 0o600


def test_environment_points_replicas_at_redis_and_data(tmp_path, monkeypatch):
    monkeypatch.delenv("PHOTOSERVE_ADMIN_TOKEN", raising=False)
    secrets, _ = local_state.ensure_secrets(tmp_path)
    env = runner.environment(Settings(port=8123), tmp_path, secrets, "redis://127.0.0.1:1/0")
    assert env["PHOTOSERVE_REDIS_URL"] == "redis://127.0.0.1:1/0"
    assert env["PHOTOSERVE_DATA_DIR"] == str(tmp_path)
    assert env["PHOTOSERVE_ADMIN_TOKEN"] == secrets["admin_token"]
    assert env["PHOTOSERVE_PUBLIC_BASE_URL"] == "http://127.0.0.1:8123"
    assert env["PHOTOSERVE_URL_SECRET"] == secrets["url_secret"] != secrets["key_secret"]
    assert env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"  # Ray's servers on loopback
    assert env["AUTOSCALER_METRIC_PORT"] != "44217" != env["DASHBOARD_METRIC_PORT"]
    assert env["RAY_prestart_worker_first_driver"] == "0"  # no idle task workers at start
    assert env["RAY_enable_metrics_collection"] == env["RAY_task_events_report_interval_ms"] == "0"


def test_secrets_of_an_older_version_are_completed(tmp_path):
    (tmp_path / local_state.SECRETS_FILE).write_text('{"key_secret": "k", "admin_token": "a"}')
    values, created = local_state.ensure_secrets(tmp_path)
    assert not created and values["key_secret"] == "k" and len(values["url_secret"]) > 20


def test_banner_tells_how_to_get_a_key(tmp_path):
    text = runner.banner("http://127.0.0.1:8000", "adm_x", True, tmp_path)
    assert "http://127.0.0.1:8000/docs" in text
    assert "photoserve accounts create" in text and "adm_x" in text
    assert "adm_x" not in runner.banner("http://127.0.0.1:8000", "adm_x", False, tmp_path)


def test_paths_under_the_working_directory_are_shown_from_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = runner.banner("http://127.0.0.1:8000", "adm_x", False, tmp_path / ".photoserve")
    assert "or .photoserve/admin_token" in text and str(tmp_path) not in text
    assert runner.shown(Path("/elsewhere/x")) == "/elsewhere/x"


def test_cli_talks_to_the_configured_port_unless_an_instance_recorded_its_own(
    monkeypatch, tmp_path
):
    from serve_app.process import local_state
    from serve_app.process.cli import parser, server_url

    monkeypatch.delenv("PHOTOSERVE_URL", raising=False)
    monkeypatch.setenv("PHOTOSERVE_PORT", "8123")
    monkeypatch.setenv("PHOTOSERVE_DATA_DIR", str(tmp_path))
    args = parser().parse_args(["accounts", "create", "--credits", "5"])
    assert server_url(args) == "http://127.0.0.1:8123" and args.credits == 5
    local_state.write_api_url(tmp_path, "http://127.0.0.1:8555")
    assert server_url(args) == "http://127.0.0.1:8555"
    args = parser().parse_args(["accounts", "create", "--url", "http://h:1", "--credits", "5"])
    assert server_url(args) == "http://h:1"


def test_run_refuses_a_weak_secret_given_by_hand_before_serve_starts(tmp_path, weights_dir):
    import os
    import subprocess
    import sys

    from serve_app.process.embedded_redis import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSERVE_")}
    env.update(
        PHOTOSERVE_DATA_DIR=str(tmp_path),
        PHOTOSERVE_PORT=str(free_port()),
        PHOTOSERVE_WEIGHTS_DIR=str(weights_dir),
        PHOTOSERVE_KEY_SECRET="short",
    )
    command = [sys.executable, "-m", "serve_app.process.cli", "run"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "refusing to start: PHOTOSERVE_KEY_SECRET is 5 characters" in done.stderr
    assert "ray" not in done.stdout.lower()  # refused before Serve was started
