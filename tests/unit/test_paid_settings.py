"""Paid broadcasts (issue 13): above Telegram's free 30 a second the bot does not start
unless the bureau has said it pays for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from config.settings import ConfigError, DeliverySettings, load_settings
from transport.limiter import build_rate_limiter


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_a_rate_above_the_free_limit_is_refused_without_paid_broadcasts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[delivery]\nmessages_per_second = 1000\n")
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={})
    message = str(error.value)
    assert "delivery.messages_per_second" in message
    assert "allow_paid_broadcast = true" in message
    # `huibao run` says it in one line and exits with 2, before anything starts.
    assert main(["--config", str(path), "run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "allow_paid_broadcast" in err


def test_the_environment_is_checked_too() -> None:
    with pytest.raises(ConfigError, match="free limit of 30"):
        load_settings(environ={"HUIBAO_DELIVERY__MESSAGES_PER_SECOND": "31"})


@pytest.mark.parametrize(
    "env",
    [
        {"HUIBAO_DELIVERY__MESSAGES_PER_SECOND": "30"},
        {"HUIBAO_DELIVERY__MESSAGES_PER_SECOND": "12.5"},
        {"HUIBAO_DELIVERY__MESSAGES_PER_SECOND": "1000",
         "HUIBAO_DELIVERY__ALLOW_PAID_BROADCAST": "true"},
    ],
)
def test_free_rates_and_paid_broadcasts_start(env: dict[str, str]) -> None:
    settings = load_settings(environ=env)
    assert settings.delivery.messages_per_second == float(env[next(iter(env))])


def test_replies_keep_to_the_free_limit_when_broadcasts_are_paid() -> None:
    limiter = build_rate_limiter(
        DeliverySettings(messages_per_second=1000, allow_paid_broadcast=True)
    )
    assert limiter.pacer.rate == 30
    assert limiter.paid is not None and limiter.paid.rate == 1000
    # One 429 holds both.
    limiter.pause(2.0)
    assert limiter.pacer.paused_for > 1.5 and limiter.paid.paused_for > 1.5
    free = build_rate_limiter(DeliverySettings(messages_per_second=20))
    assert free.pacer.rate == 20 and free.paid is None
