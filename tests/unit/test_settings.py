"""Settings: file, environment, defaults, and one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from config.settings import ConfigError, load_settings


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.database.url == "sqlite+aiosqlite:///huibao.db"
    assert settings.bureau.timezone == "Asia/Shanghai"
    assert settings.bureau.default_language == "zh_CN"
    assert settings.telegram.mode == "polling"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[telegram]\ntoken = "1:file"\n[bureau]\nname = "某县教育局"\n')
    settings = load_settings(
        path, environ={"HUIBAO_TELEGRAM__TOKEN": "2:env", "HUIBAO_BUREAU__ADMINS": "[7, 8]"}
    )
    assert settings.telegram.token == "2:env"
    assert settings.bureau.name == "某县教育局"
    assert settings.bureau.admins == [7, 8]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[telegram]\nmode = "carrier-pigeon"\n', "telegram.mode"),
        ('[bureau]\ntimezone = "Mars/Olympus"\n', "unknown time zone"),
        ("[bureau]\nadmns = [1]\n", "bureau.admns: unknown setting"),
        ('[database]\nurl = "mysql://x"\n', "database.url"),
        ("[telegram\n", "not valid TOML"),
    ],
)
def test_bad_file_names_the_problem(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, body), environ={})
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_cli_exit_code_2_and_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[telegram]\nmode = "fax"\n')
    assert main(["--config", str(path), "run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "telegram.mode" in err


def test_missing_token_as_a_real_process(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).parents[2])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "telegram.token is not set" in lines[0]
    assert "Traceback" not in result.stderr


def _keys(model: type, prefix: str = "") -> set[str]:
    from pydantic import BaseModel

    keys: set[str] = set()
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def _file_keys(data: dict[str, object], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, value in data.items():
        if isinstance(value, dict):
            keys |= _file_keys(value, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_example_config_documents_every_setting() -> None:
    import tomllib

    from config.settings import Settings

    example = Path(__file__).parents[2] / "config.example.toml"
    data = tomllib.loads(example.read_text(encoding="utf-8"))
    Settings(**data)  # the example itself must be valid
    assert _keys(Settings) == _file_keys(data)


def test_the_bundled_forms_are_found_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config.settings import PROJECT_DIR

    monkeypatch.chdir(tmp_path)
    # No forms/ here: the default finds the Huibao folder's bundled forms.
    settings = load_settings(environ={})
    assert Path(settings.forms.directory) == PROJECT_DIR / "forms"
    assert (Path(settings.forms.directory) / "staffing.toml").is_file()
    # A forms/ of this folder wins over the bundled one.
    (tmp_path / "forms").mkdir()
    assert Path(load_settings(environ={}).forms.directory) == (tmp_path / "forms").resolve()
    # An absolute folder is taken as it is; a relative one found nowhere stays relative,
    # so that the error ("forms not loaded", `huibao forms check`) names it as given.
    elsewhere = tmp_path / "elsewhere"
    env = {"HUIBAO_FORMS__DIRECTORY": str(elsewhere)}
    assert load_settings(environ=env).forms.directory == str(elsewhere)
    env = {"HUIBAO_FORMS__DIRECTORY": "no/such/folder"}
    assert load_settings(environ=env).forms.directory == "no/such/folder"


@pytest.mark.parametrize(
    ("written", "seconds"), [("24h", 86400.0), ("90m", 5400.0), ("45s", 45.0), ("2d", 172800.0),
                             ("30", 30.0), (600, 600.0)]
)
def test_delivery_retry_for_reads_durations(written: object, seconds: float) -> None:
    env = {"HUIBAO_DELIVERY__RETRY_FOR": str(written)}
    assert load_settings(environ=env).delivery.retry_for == seconds


def test_delivery_retry_for_refuses_nonsense() -> None:
    with pytest.raises(ConfigError):
        load_settings(environ={"HUIBAO_DELIVERY__RETRY_FOR": "soon"})
