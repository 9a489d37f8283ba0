"""Webhook settings: safe defaults, and a secret Telegram would refuse is refused at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # built-in defaults, not a config.toml lying around


def test_webhook_listens_on_localhost_by_default() -> None:
    assert load_settings(environ={}).telegram.webhook.listen == "127.0.0.1"


def test_a_secret_telegram_would_refuse_stops_the_start() -> None:
    environ = {"HUIBAO_TELEGRAM__WEBHOOK__SECRET_TOKEN": "has spaces!"}
    with pytest.raises(ConfigError, match=r"telegram\.webhook\.secret_token: only letters"):
        load_settings(environ=environ)
    ok = {"HUIBAO_TELEGRAM__WEBHOOK__SECRET_TOKEN": "A-b_9" * 10}
    assert load_settings(environ=ok).telegram.webhook.secret_token == "A-b_9" * 10
