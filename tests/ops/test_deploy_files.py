"""The deployment files in deploy/ agree with the settings, and the systemd unit is one
systemd accepts (checked with `systemd-analyze verify` where it is installed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from config.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def env_example() -> dict[str, str]:
    lines = (DEPLOY / "huibao.env.example").read_text(encoding="utf-8").splitlines()
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_the_environment_file_is_valid_settings() -> None:
    settings = load_settings(environ=env_example())
    assert settings.database.url.startswith("postgresql+asyncpg://")
    assert settings.delivery.journal_path.startswith("/srv/huibao/data/")


def test_the_proxies_forward_the_webhook_path_to_the_webhook_port() -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    hook = example["telegram"]["webhook"]
    target = f"127.0.0.1:{hook['port']}"
    caddy = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert f"handle /{hook['path']} {{" in caddy and f"reverse_proxy {target}" in caddy
    assert f"location = /{hook['path']} {{" in nginx and f"proxy_pass http://{target};" in nginx


def _verify(unit: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "huibao.service"
    # The unit names the installed paths; here they point at this checkout's.
    path.write_text(unit.replace("/srv/huibao/.venv/bin/huibao", str(Path(sys.executable)
                                 .with_name("huibao"))).replace("/etc/huibao/huibao.env",
                                                                "/dev/null"), encoding="utf-8")
    return subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_unit_and_would_refuse_a_broken_one(tmp_path: Path) -> None:
    unit = (DEPLOY / "huibao.service").read_text(encoding="utf-8")
    accepted = _verify(unit, tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    broken = _verify(unit.replace("ExecStart=/", "ExecStart=relative/"), tmp_path)
    assert broken.returncode != 0


def test_an_instance_file_with_the_shared_one_is_valid_webhook_settings() -> None:
    lines = (DEPLOY / "instance.env.example").read_text(encoding="utf-8").splitlines()
    instance = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    settings = load_settings(environ={**env_example(), **instance})
    assert settings.telegram.mode == "webhook"
    assert settings.database.url.startswith("postgresql+asyncpg://")
    assert str(settings.telegram.webhook.port) in settings.delivery.journal_path


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_instance_template(tmp_path: Path) -> None:
    unit = (DEPLOY / "huibao@.service").read_text(encoding="utf-8")
    unit = unit.replace("/etc/huibao/instance-%i.env", "/dev/null")
    path = tmp_path / "huibao@.service"
    path.write_text(unit.replace("/srv/huibao/.venv/bin/huibao", str(
        Path(sys.executable).with_name("huibao"))).replace("/etc/huibao/huibao.env", "/dev/null"),
        encoding="utf-8")
    instance = tmp_path / "huibao@8443.service"
    instance.symlink_to(path)
    checked = subprocess.run(["systemd-analyze", "verify", str(instance)], capture_output=True,
                             text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stderr
