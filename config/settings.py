"""Typed settings: built-in defaults, then the TOML file, then HUIBAO_<SECTION>__<KEY>."""

from __future__ import annotations

import os
import re
import tomllib
from datetime import datetime, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from models.clock import after_quiet_hours

LANGUAGES = ("zh_CN", "en")
DEFAULT_CONFIG = Path("config.toml")


class Section(BaseModel):
    # A typo in a key must stop the start, not be silently ignored.
    model_config = ConfigDict(extra="forbid")


class WebhookSettings(Section):
    # Behind a reverse proxy on the same host; "0.0.0.0" only when Telegram posts directly.
    listen: str = "127.0.0.1"
    port: int = Field(8443, ge=1, le=65535)
    url: str = ""
    path: str = "telegram"
    # Empty: made once and kept in the database (bot/app.py webhook_secret).
    secret_token: str = ""
    # How many updates Telegram posts at once (setWebhook max_connections, 1-100), in
    # all for every process behind the address; one chat's updates never overlap.
    max_connections: int = Field(40, ge=1, le=100)

    @field_validator("secret_token")
    @classmethod
    def _telegram_secret(cls, value: str) -> str:
        # What setWebhook accepts; anything else would only fail later, at Telegram.
        if not re.fullmatch(r"[A-Za-z0-9_-]{0,256}", value):
            raise ValueError("only letters, digits, _ and - are allowed (at most 256)")
        return value


class TelegramSettings(Section):
    token: str = ""
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook: WebhookSettings = WebhookSettings()
    poll_timeout: int = Field(10, ge=0, le=50)
    # For invitation links made where the bot cannot ask Telegram its name (CLI offline).
    bot_username: str = ""

    @field_validator("bot_username")
    @classmethod
    def _bare_username(cls, value: str) -> str:
        value = value.strip().removeprefix("@").removeprefix("https://t.me/")
        if value and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{3,31}", value):
            raise ValueError("must be the bot's @username, e.g. my_bureau_bot")
        return value


class DatabaseSettings(Section):
    url: str = "sqlite+aiosqlite:///huibao.db"
    echo: bool = False
    pool_size: int = Field(10, ge=1, le=200)

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class BureauSettings(Section):
    name: str = "教育局"
    # The name said to people who read English; the Chinese name when empty.
    name_en: str = ""
    timezone: str = "Asia/Shanghai"
    default_language: Literal["zh_CN", "en"] = "zh_CN"
    admins: list[int] = []
    # Whom principals may ask (e.g. "人事科 0795-1234567"), shown when the bot cannot
    # answer what they typed; empty: only the bureau's name is shown.
    contact: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def name_in(self, language: str) -> str:
        """The bureau's name as a reader of `language` is told it."""
        if language.startswith("en") and self.name_en:
            return self.name_en
        return self.name


class QuietHoursSettings(Section):
    enabled: bool = True
    start: time = time(21, 0)
    end: time = time(8, 0)


class InvitesSettings(Section):
    expires_days: int = Field(14, ge=1, le=366)
    max_wrong_codes: int = Field(5, ge=1, le=100)
    wrong_code_window_minutes: int = Field(10, ge=1, le=24 * 60)


# Telegram's free limit: messages per second to different chats without paid broadcasts.
FREE_MESSAGES_PER_SECOND = 30.0


class DeliverySettings(Section):
    """The outbox worker that sends notices, reminders and summaries (DESIGN principle 3)."""

    # Telegram allows about 30 messages per second to different chats for free.
    messages_per_second: float = Field(30.0, gt=0, le=1000)
    # Paid broadcasts (Telegram Stars) allow up to 1000 messages per second.
    allow_paid_broadcast: bool = False
    # Temporary errors (network, Telegram 5xx) are retried for this long after a delivery's
    # first failure: "24h", "90m", "45s", "2d" or a number of seconds.
    retry_for: float = Field(24 * 3600.0, ge=0, le=30 * 86400)
    # 0: no limit on the number of tries, only retry_for; > 0 also stops after that many.
    max_attempts: int = Field(0, ge=0, le=10000)
    backoff_seconds: float = Field(2.0, ge=0, le=3600)
    backoff_max_seconds: float = Field(300.0, ge=0, le=86400)
    batch_size: int = Field(50, ge=1, le=1000)
    # The most requests in flight; the worker keeps about 3 x rate x round trip below it.
    concurrency: int = Field(32, ge=1, le=256)
    lease_seconds: float = Field(60.0, ge=1, le=3600)
    poll_seconds: float = Field(1.0, gt=0, le=60)
    progress_seconds: float = Field(2.0, gt=0, le=60)
    # Where the worker notes each accepted message before committing it (scheduler/journal.py).
    # "": next to the SQLite file, or ./huibao-outbox.journal with PostgreSQL; "off": none.
    journal_path: str = ""


    @field_validator("retry_for", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """ "24h" -> 86400.0; "90m", "45s", "2d", or plain seconds ("30")."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if match is None:
        raise ValueError('a duration such as "24h", "90m", "45s" or "2d"')
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


class NoticesSettings(Section):
    # Hours after sending when those who have not acknowledged get one reminder; 0 = never.
    ack_reminder_delay_hours: float = Field(24.0, ge=0, le=24 * 60)


class InboxSettings(Section):
    # Working days (Monday to Friday, bureau time) a question may wait for an answer before
    # whoever may answer it is reminded, once; 0 = never.
    remind_after_working_days: int = Field(1, ge=0, le=30)


class MetricsSettings(Section):
    # /metrics (Prometheus) and /healthz on this address and port; 0 = not served.
    listen: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)


class SummarySettings(Section):
    flag_change_percent: int = Field(50, ge=1, le=1000)
    flag_unchanged_periods: int = Field(4, ge=2, le=20)
    rounds_listed: int = Field(10, ge=1, le=50)


class ExportSettings(Section):
    dhis2_category_option_combo: str = ""
    dhis2_attribute_option_combo: str = ""


class RemindersSettings(Section):
    """The default reminder policy; a schedule or round may override any of it."""

    on_open: bool = True
    # "off" turns the weekly reminder off.
    weekly_day: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "off"
    ] = "monday"
    weekly_time: time = time(9, 0)
    days_before: list[int] = [3, 1]
    days_before_time: time = time(9, 0)
    deadline_day: bool = True
    deadline_day_time: time = time(9, 0)
    overdue: bool = True
    escalate_to_district: bool = True
    misfire_grace_hours: float = Field(6.0, ge=0, le=72)
    summary_days_before: int = Field(3, ge=0, le=14)
    summary_time: time = time(17, 0)
    summary_at_deadline: bool = True

    @field_validator("days_before")
    @classmethod
    def _positive_days(cls, value: list[int]) -> list[int]:
        if any(day < 1 or day > 60 for day in value):
            raise ValueError("each entry must be a number of days from 1 to 60")
        return sorted(set(value), reverse=True)


class SchedulerSettings(Section):
    # false: this process never runs reminders or summaries (the delivery worker still runs).
    enabled: bool = True
    # How often due reminders, summaries and recurring rounds are looked for.
    tick_seconds: int = Field(30, ge=5, le=300)
    # PostgreSQL advisory lock key; every process of one bureau must use the same number.
    leader_lock_id: int = 4_826_011
    # A process without the lock retries this often, so takeover takes at most this long
    # after the holder's connection is gone.
    lock_poll_seconds: float = Field(5.0, ge=0.5, le=25)
    # PostgreSQL ends the holder's lock session after this much silence (a hung holder).
    lock_session_timeout_seconds: int = Field(20, ge=5, le=600)

    @model_validator(mode="after")
    def _timeout_outlasts_checkins(self) -> SchedulerSettings:
        if self.lock_session_timeout_seconds < 2 * self.lock_poll_seconds:
            raise ValueError(
                "lock_session_timeout_seconds must be at least twice lock_poll_seconds, "
                "or a healthy holder would lose the lock between its check-ins"
            )
        return self


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


PROJECT_DIR = Path(__file__).resolve().parent.parent
"""The Huibao folder (a clone, or an editable install), which holds the bundled forms/."""


class FormsSettings(Section):
    directory: str = Field("forms", validate_default=True)

    @field_validator("directory")
    @classmethod
    def _resolve(cls, value: str) -> str:
        return str(resolve_forms_directory(value))


def resolve_forms_directory(
    value: str | Path, cwd: Path | None = None, project: Path = PROJECT_DIR
) -> Path:
    """Where the form files are. An absolute path is taken as it is. A relative one is
    looked for in the folder the bot starts in, then in the Huibao folder (so the bundled
    forms/ is found by `huibao run` started anywhere); if neither has it, the path stays
    relative to the current folder, so that the error names it."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    here = (cwd or Path.cwd()) / path
    if here.is_dir():
        return here.resolve()
    bundled = project / path
    if bundled.is_dir():
        return bundled
    return path


class RoundsSettings(Section):
    grace_minutes: int = Field(0, ge=0, le=60 * 24 * 30)
    unlock_hours: int = Field(72, ge=1, le=24 * 60)


class FilesSettings(Section):
    # The largest file a form's `file` question accepts when the form gives no max_mb.
    # A bot can download at most 20 MB through the Bot API.
    max_mb: int = Field(10, ge=1, le=20)
    # PostgreSQL only: a folder to keep the files in (named by their SHA-256) instead of
    # the database. Empty: in the database. SQLite keeps them in its file always.
    dir: str = ""
class ReviewSettings(Section):
    # District review (rounds opened with --review district): hours a submission may wait
    # in a district officer's queue before the officers (or, where the district has none,
    # the bureau's staff) are reminded once; 0 = never.
    remind_after_hours: int = Field(24, ge=0, le=24 * 30)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUIBAO_", env_nested_delimiter="__", extra="forbid"
    )

    telegram: TelegramSettings = TelegramSettings()
    database: DatabaseSettings = DatabaseSettings()
    bureau: BureauSettings = BureauSettings()
    quiet_hours: QuietHoursSettings = QuietHoursSettings()
    invites: InvitesSettings = InvitesSettings()
    delivery: DeliverySettings = DeliverySettings()
    notices: NoticesSettings = NoticesSettings()
    inbox: InboxSettings = InboxSettings()
    metrics: MetricsSettings = MetricsSettings()
    summary: SummarySettings = SummarySettings()
    export: ExportSettings = ExportSettings()
    reminders: RemindersSettings = RemindersSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    logging: LoggingSettings = LoggingSettings()
    # Made when the settings are: a relative folder is resolved against the folder then.
    forms: FormsSettings = Field(default_factory=FormsSettings)
    rounds: RoundsSettings = RoundsSettings()
    files: FilesSettings = FilesSettings()
    review: ReviewSettings = ReviewSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init arguments; the environment overrides them.
        return env_settings, init_settings

    def quiet_until(self, now: datetime) -> datetime:
        """`now`, or the end of the bureau's quiet hours when `now` falls in them: when an
        automatic reminder due now may go out."""
        quiet = self.quiet_hours
        return after_quiet_hours(now, self.bureau.tz, quiet.start, quiet.end,
                                 enabled=quiet.enabled)


class ConfigError(Exception):
    """A problem in the configuration, worded for one line on the terminal."""


def _format_validation_error(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown setting"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{source}: {key}: {message}{suffix}"


def load_settings(path: Path | None = None, *, environ: dict[str, str] | None = None) -> Settings:
    """Read settings; raise ConfigError with one readable line on any problem.

    With no path, ./config.toml is read if it exists and built-in defaults are used if not;
    a path given explicitly must exist.
    """
    explicit = path is not None
    path = path or DEFAULT_CONFIG
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot be read: {exc}") from None
    elif explicit:
        raise ConfigError(f"{path}: no such configuration file")
    saved = None
    if environ is not None:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(environ)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        source = f"{path}" if path.exists() else "settings"
        raise ConfigError(_format_validation_error(exc, source)) from None
    finally:
        if saved is not None:
            os.environ.clear()
            os.environ.update(saved)
    _refuse_unpaid_speed(settings, f"{path}" if path.exists() else "settings")
    if path.exists():
        # Relative paths in a settings file are relative to that file, so `huibao` finds
        # the same database from whatever directory it is started in.
        anchor_paths(settings, path.resolve().parent)
    return settings


def _refuse_unpaid_speed(settings: Settings, source: str) -> None:
    """Above Telegram's free 30 a second only paid broadcasts are allowed: a faster rate
    without them would meet "Too Many Requests" all through every broadcast."""
    delivery = settings.delivery
    paid = delivery.allow_paid_broadcast
    if delivery.messages_per_second > FREE_MESSAGES_PER_SECOND and not paid:
        raise ConfigError(
            f"{source}: delivery.messages_per_second: {delivery.messages_per_second:g} is above "
            f"Telegram's free limit of {FREE_MESSAGES_PER_SECOND:g} a second; set "
            "delivery.allow_paid_broadcast = true (Telegram then charges Stars for every "
            "message sent above the free limit) or lower the rate"
        )


SQLITE_PREFIX = "sqlite+aiosqlite:///"


def anchor_paths(settings: Settings, base: Path) -> None:
    """Make the SQLite file and the outbox journal absolute, relative to `base`."""
    url = settings.database.url
    if url.startswith(SQLITE_PREFIX):
        file, sep, query = url[len(SQLITE_PREFIX):].partition("?")
        if file and file != ":memory:" and not Path(file).is_absolute():
            settings.database.url = f"{SQLITE_PREFIX}{base / file}{sep}{query}"
    journal = settings.delivery.journal_path
    if journal and journal != "off" and not Path(journal).is_absolute():
        settings.delivery.journal_path = str(base / journal)
    if settings.files.dir and not Path(settings.files.dir).is_absolute():
        settings.files.dir = str(base / settings.files.dir)


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite database file the settings name (absolute); None for PostgreSQL or an
    in-memory database."""
    url = settings.database.url
    if not url.startswith(SQLITE_PREFIX):
        return None
    file = url[len(SQLITE_PREFIX):].partition("?")[0]
    return None if not file or file == ":memory:" else Path(file).resolve()


def files_directory(settings: Settings) -> Path | None:
    """Where form files are kept outside the database: `[files] dir` on PostgreSQL, never on
    SQLite (its one file is the whole backup); None: in the database."""
    if not settings.files.dir or settings.database.url.startswith("sqlite"):
        return None
    return Path(settings.files.dir)
