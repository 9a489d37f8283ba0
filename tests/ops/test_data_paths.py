"""Where the data is: relative paths in a settings file are relative to that file, and
`huibao run` started in the wrong folder says so instead of making an empty database."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from config.settings import load_settings


def test_relative_paths_in_a_settings_file_are_relative_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "srv"
    home.mkdir()
    config = home / "config.toml"
    config.write_text('[database]\nurl = "sqlite+aiosqlite:///data/huibao.db"\n'
                      '[delivery]\njournal_path = "data/outbox.journal"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(config, environ={})
    assert settings.database.url == f"sqlite+aiosqlite:///{home}/data/huibao.db"
    assert settings.delivery.journal_path == f"{home}/data/outbox.journal"


def test_run_in_a_folder_without_settings_or_database_refuses_and_makes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUIBAO_DATABASE__URL", raising=False)
    monkeypatch.setenv("HUIBAO_TELEGRAM__TOKEN", "123456:not-a-real-token")
    assert main(["run"]) == 2
    error = capsys.readouterr().err
    assert f"no config.toml in {tmp_path} and no database at {tmp_path / 'huibao.db'}" in error
    assert "huibao db upgrade" in error
    assert list(tmp_path.iterdir()) == []
