"""The "Try it" flows (docs/try-it.md), walked by a script in both languages and written down.

`python -m bot.walkthrough [DIR]` makes a fresh database in a temporary folder, loads the
demo county (`huibao demo-data`), then walks every flow of docs/try-it.md
as it describes them (typing into `huibao console`, running the `huibao` commands it
names) once in Chinese and once in English. Each flow and language becomes one Markdown
transcript in DIR (default `docs/transcripts/`, e.g. `report.zh_CN.md`), and the files the
bot sent (workbooks, charts, QR codes) are kept under DIR/files/.

The walk is deterministic: the clock is fixed (and moves 30 seconds per line typed), the
invitation codes come from a seeded generator and the console's people have fixed ids, so
running it again writes the same transcripts and a diff shows what changed.

`findings()` scans a walk for what issue 11 forbids: a message a person sent that got no
answer, ASCII punctuation next to Chinese in the bot's Chinese text, a button label cut
short with "…", and in English a count of one with a plural noun ("1 schools"). The walk
prints them and lists them in DIR/README.md; tests/e2e/test_walkthrough.py asserts there
are none and that the transcripts in the repository are up to date.

The flows themselves are in bot/walkthrough_flows.py, the fixed clock and codes in
bot/walkthrough_clock.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from bot.console import Console, prepare_identity
from bot.console_transport import FileSaver
from bot.walkthrough_clock import Clock, fixed_codes, frozen
from bot.walkthrough_flows import FIRST_CODE, FLOWS, Chat, Flow, Line, Say, Shell, Tap, Wait
from config.settings import (
    DatabaseSettings,
    DeliverySettings,
    SchedulerSettings,
    Settings,
    TelegramSettings,
)

LANGUAGES = ("zh_CN", "en")
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "docs" / "transcripts"
# Monday 7 December 2026, 10:00 in Beijing: a working morning, outside quiet hours.
START = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
CODE_SEED = 11

# --- a walk, as it is recorded -----------------------------------------------------------


@dataclass
class Exchange:
    """One thing a person did (typed a line, pressed a button) and what the bot showed.

    `said` is None when the bot spoke on its own (the scheduler at a deadline)."""

    said: str | None
    shown: list[str] = field(default_factory=list)


@dataclass
class Transcript:
    flow: Flow
    language: str
    lines: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    # Buttons the script meant to press and did not find: the flow changed under it.
    astray: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        note = (
            "Written by `.venv/bin/python -m bot.walkthrough` (see [Try it](../try-it.md)); "
            "do not edit by hand."
        )
        if self.files:
            # One link per file, not to the folder: the docs site (mkdocs --strict) checks
            # that each exists.
            sent = ", ".join(
                f"[{path.name}](files/{self.name}/{quote(path.name)})" for path in self.files
            )
            note += f" The files the bot sent: {sent}."
        head = [f"# {self.flow.title} ({self.language})", "", note, "", "```console"]
        body = [line.rstrip() for text in self.lines for line in text.splitlines() or [""]]
        return "\n".join([*head, *body, "```", ""])

    @property
    def name(self) -> str:
        return f"{self.flow.name}.{self.language}"


@dataclass(frozen=True)
class Finding:
    kind: str
    flow: str
    language: str
    said: str | None
    text: str

    def after(self, quote: str = "'") -> str:
        if self.said is None:
            return "when the scheduler ticked"
        return f"after {quote}{self.said}{quote}"

    def __str__(self) -> str:
        return f"{self.flow}.{self.language}: {self.kind}: {self.after()}: {self.text}"


# --- walking -----------------------------------------------------------------------------


# The environment overrides settings (HUIBAO_...): read none of it, so a walk never touches
# a configured database and shows the defaults the docs describe.
_NO_ENVIRONMENT = "HUIBAO_WALKTHROUGH_IGNORES_THE_ENVIRONMENT_"


def walk_settings(database: Path) -> Settings:
    """The documented defaults, on a database of the walk's own, whatever the environment.

    One sender and no timers of their own: deliveries go out one by one when the walk
    asks, so they appear in the same place of the transcript on every run."""
    return Settings(
        _env_prefix=_NO_ENVIRONMENT,
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{database}"),
        telegram=TelegramSettings(bot_username="huibao_demo_bot"),
        scheduler=SchedulerSettings(enabled=False),
        delivery=DeliverySettings(
            concurrency=1, poll_seconds=60, progress_seconds=60, journal_path="off"
        ),
    )


class Walker:
    """Walks the flows in one language on a fresh database, writing into `folder`."""

    def __init__(self, language: str, workdir: Path, folder: Path) -> None:
        self.language = language
        self.settings = walk_settings(workdir / "huibao.db")
        self.folder = folder
        self.clock = Clock(START)
        self.codes: list[str] = []

    def walk(self, flows: tuple[Flow, ...]) -> list[Transcript]:
        from models.migrate import upgrade

        upgrade(self.settings.database.url)
        done = []
        with frozen(self.clock), fixed_codes(CODE_SEED):
            for flow in flows:
                transcript = Transcript(flow, self.language)
                for step in flow.steps:
                    if isinstance(step, Shell):
                        self.shell(step, transcript)
                    else:
                        asyncio.run(self.chat(step, transcript))
                done.append(transcript)
        return done

    def shell(self, step: Shell, transcript: Transcript) -> None:
        from bot.cli import CliError, build_parser

        self.clock.tick()
        args = build_parser().parse_args(list(step.args))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                args.func(self.settings, args)
            except CliError as exc:
                print(f"huibao: {exc}")
        text = out.getvalue().rstrip("\n")
        self.codes += re.findall(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b", text)
        shown = " ".join(_quoted(a) for a in step.args)
        transcript.lines += [f"$ huibao {shown}", *text.splitlines(), ""]

    async def chat(self, step: Chat, transcript: Transcript) -> None:
        console = await self.console(step, transcript)
        await console.start()
        console.app.bot_data["services"].clock = self.clock
        gate = _Gate(console)
        try:
            await gate.settle()
            for line in step.lines:
                await self.say(line, console, gate, transcript)
        finally:
            gate.release()
            await console.stop()
        transcript.lines.append("")
        transcript.files += console.transport.saver.saved

    async def console(self, step: Chat, transcript: Transcript) -> Console:
        """`huibao console --as WHO`, its line in the transcript, its files kept by flow."""
        identity = await prepare_identity(self.settings, step.who)
        language = "" if self.language == self.settings.bureau.default_language else (
            f" --language {self.language}"
        )
        who = "" if step.who == "newcomer" else f" --as {step.who}"
        transcript.lines.append(f"$ huibao console{who}{language}")
        files = self.folder / "files" / transcript.name
        return Console(
            self.settings,
            user_id=identity.user_id,
            first_name=identity.first_name,
            language_code={"zh_CN": "zh-hans"}.get(self.language, self.language),
            output=lambda text: _record(transcript, text),
            files=FileSaver(files, shown_from=self.folder),
        )

    async def say(self, line: Line, console: Console, gate: _Gate, transcript: Transcript) -> None:
        """Type one line (or press one button), then let the outbox send what it caused."""
        if isinstance(line, Wait):
            await self.wait(line, console, transcript)
            await gate.settle()
            return
        typed = self.typed(line, console)
        if typed is None:
            label = _label(line, self.language)
            transcript.lines.append(f"# (no button with {label} to press here)")
            if isinstance(line, Tap) and not line.optional:
                transcript.astray.append(label)
            return
        self.clock.tick()
        transcript.lines.append(f"you> {typed}")
        transcript.exchanges.append(Exchange(typed))
        await console.type(typed)
        await gate.settle()

    async def wait(self, line: Wait, console: Console, transcript: Transcript) -> None:
        from scheduler.tick import Ticker

        self.clock.now = line.until
        shown = line.until.astimezone(self.settings.bureau.tz)
        transcript.lines.append(f"# {shown:%Y-%m-%d %H:%M} ({self.settings.bureau.timezone})")
        transcript.exchanges.append(Exchange(None))
        services = console.app.bot_data["services"]
        ticker = Ticker(
            self.settings, services.sessionmaker, forms_dir=Path(self.settings.forms.directory)
        )
        await ticker.run(self.clock())

    def typed(self, line: Line, console: Console) -> str | None:
        if isinstance(line, Tap):
            return _button_number(console, _label(line, self.language))
        if isinstance(line, Say):
            return line.text(self.language)
        if isinstance(line, Wait):
            return None
        if line == FIRST_CODE:
            return self.codes[0] if self.codes else "NO-CODE-PRINTED"
        return line


def _button_number(console: Console, label: str) -> str | None:
    shown = console.transport.latest_with_buttons()
    labels = [text for row in shown.buttons for text, _data in row] if shown else []
    for number, text in enumerate(labels, start=1):
        if label in text:
            return str(number)
    return None


def _label(line: Line, language: str) -> str:
    label = line.label if isinstance(line, Tap) else line
    return label.text(language) if isinstance(label, Say) else str(label)


def _quoted(arg: str) -> str:
    return f'"{arg}"' if " " in arg else arg


def _record(transcript: Transcript, text: str) -> None:
    transcript.lines.append(text)
    if transcript.exchanges:
        transcript.exchanges[-1].shown.append(text)


_NEVER = 24 * 3600.0
# Sending a few messages takes milliseconds; a minute means the walk is stuck.
_SETTLE_SECONDS = 60


class _Gate:
    """Holds the outbox while an update is handled, then lets it send until nothing is due.

    The bot wakes its delivery worker as soon as a transaction commits; held here, the
    deliveries go out after the reply to the person, in the order they were queued."""

    def __init__(self, console: Console) -> None:
        self.services = console.app.bot_data["services"]
        self.worker = self.services.outbox
        self.services.outbox = self
        # Nor does the worker look or report on its own, however slow the machine: only
        # when settle() asks. (Beyond the settings' bounds, hence a copy, not validation.)
        self.worker.settings = self.worker.settings.model_copy(
            update={"poll_seconds": _NEVER, "progress_seconds": _NEVER}
        )
        self.worker.wake()  # its first wait began with the old poll

    def wake(self) -> None:
        pass

    def release(self) -> None:
        self.services.outbox = self.worker

    async def settle(self) -> None:
        async with asyncio.timeout(_SETTLE_SECONDS):
            while True:
                if await self._due():
                    self.worker.wake()
                    await asyncio.sleep(0.02)
                elif not await self._progress():
                    return

    async def _progress(self) -> bool:
        """Finish the batches whose deliveries are all done (their reports are queued)."""
        from scheduler.delivery_progress import update_progress

        return bool(await update_progress(self.worker.bot, self.services.sessionmaker))

    async def _due(self) -> int:
        from sqlalchemy import func, or_, select

        from models.outbox.tables import HELD, Delivery, Status

        now = self.services.now()
        query = select(func.count()).where(
            or_(
                Delivery.status.in_(HELD),
                (Delivery.status == Status.PENDING.value) & (Delivery.next_attempt_at <= now),
            )
        )
        async with self.services.sessionmaker() as session:
            return int((await session.execute(query)).scalar_one())


# --- the checks --------------------------------------------------------------------------

_CJK = "\u3400-\u9fff\uf900-\ufaff"
_ASCII_NEXT_TO_CJK = re.compile(rf"[{_CJK}][,:;?!()]|[,:;?!()][{_CJK}]")
# "1 schools": a count of one with a plural noun, in English (issue 11, item 12).
_ONE_PLURAL = re.compile(
    r"(?<![\d.,/])\b1 (people|schools|teachers|principals|recipients|days|questions|notices)\b"
)
# Labels whose ellipsis says a further step follows, not that words were cut off.
MEANT_TO_GO_ON = frozenset({"定时发送……", "At a time…"})
_BUTTON = re.compile(r"\[(\d+)\] (.+?)(?=  \[\d+\] |$)")


def findings(transcripts: list[Transcript]) -> list[Finding]:
    """What issue 11 forbids in a walk, in the order met; a message sent to several people
    counts once."""
    found: dict[tuple[str, ...], Finding] = {}
    for transcript in transcripts:
        for label in transcript.astray:
            finding = Finding("no such button", transcript.flow.name, transcript.language,
                              label, "the flow changed: update FLOWS in bot/walkthrough.py")
            found[(transcript.name, label)] = finding
        for exchange in transcript.exchanges:
            for finding in _check(transcript, exchange):
                key = (finding.flow, finding.language, finding.kind, finding.text)
                found.setdefault(key if finding.text else (*key, str(finding.said)), finding)
    return list(found.values())


def _check(transcript: Transcript, exchange: Exchange) -> list[Finding]:
    flow, language, said = transcript.flow.name, transcript.language, exchange.said
    found = []
    if said is not None and not any(_to_the_person(text) for text in exchange.shown):
        found.append(Finding("no answer", flow, language, said, ""))
    for text in exchange.shown:
        body = _body(text)
        for line in body.splitlines():
            if language == "zh_CN" and _ASCII_NEXT_TO_CJK.search(_strip_buttons(line)):
                found.append(Finding("ASCII punctuation", flow, language, said, line.strip()))
            if language == "en" and _ONE_PLURAL.search(line):
                found.append(Finding("plural after 1", flow, language, said, line.strip()))
            for _number, label in _BUTTON.findall(line.strip()):
                if label.rstrip().endswith("…") and label.strip() not in MEANT_TO_GO_ON:
                    found.append(Finding("truncated button", flow, language, said, label))
    return found


def _to_the_person(text: str) -> bool:
    return not text.startswith("(to ")


def _body(text: str) -> str:
    """A message as the bot wrote it, without the console's head and file lines."""
    text = re.sub(r"^(\(to \d+\) )?bot( \([a-z]+\))?> ", "", text)
    return "\n".join(
        line for line in text.splitlines()
        if not line.startswith(("[file] ", "[your commands:"))
    )


def _strip_buttons(line: str) -> str:
    """Button labels are checked too, but the console's `[1]` markers are not the bot's."""
    return re.sub(r"\[\d+\] ", "", line)


# --- writing -----------------------------------------------------------------------------


def walk(folder: Path, flows: tuple[Flow, ...] = FLOWS) -> list[Transcript]:
    """Walk every flow in both languages; write the transcripts and files into `folder`."""
    shutil.rmtree(folder / "files", ignore_errors=True)
    done: list[Transcript] = []
    for language in LANGUAGES:
        with tempfile.TemporaryDirectory(prefix="huibao-walk-") as workdir:
            done += Walker(language, Path(workdir), folder).walk(flows)
    for transcript in done:
        (folder / f"{transcript.name}.md").write_text(transcript.markdown(), encoding="utf-8")
        for path in transcript.files:
            _steady(path)
    (folder / "README.md").write_text(index(done), encoding="utf-8")
    return done


def index(transcripts: list[Transcript]) -> str:
    """The folder's page: each flow in each language, and what the checks found."""
    lines = [
        "# Transcripts of the \"Try it\" flows",
        "",
        "Written by `.venv/bin/python -m bot.walkthrough` (see [Try it](../try-it.md)); do "
        "not edit by hand. Each flow was walked on a fresh database with the demo county, "
        f"from {START:%Y-%m-%d %H:%M} UTC on a fixed clock.",
        "",
        "| flow | 中文 | English |",
        "|---|---|---|",
    ]
    for flow in dict.fromkeys(t.flow for t in transcripts):
        links = [f"[{t.name}.md]({t.name}.md)" for t in transcripts if t.flow == flow]
        lines.append(f"| {flow.title} | {' | '.join(links)} |")
    found = findings(transcripts)
    lines += ["", f"## What the checks found ({len(found)})", ""]
    lines += [f"- {_markdown(finding)}" for finding in found] or ["Nothing."]
    return "\n".join([*lines, ""])


def _markdown(finding: Finding) -> str:
    text = f": `{finding.text}`" if finding.text else ""
    return f"{finding.flow}.{finding.language}, {finding.after('`')}: {finding.kind}{text}"


def _steady(path: Path) -> None:
    """A workbook stamped with the walk's time instead of the machine's, so it diffs clean."""
    if path.suffix != ".xlsx":
        return
    stamp = START.strftime("%Y-%m-%dT%H:%M:%SZ")
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), data
                )
            steady = zipfile.ZipInfo(info.filename, (1980, 1, 1, 0, 0, 0))
            steady.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(steady, data)
    path.write_bytes(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.walkthrough",
        description="walk the Try it flows (docs/try-it.md) in both languages, write transcripts",
    )
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    # The reminders the walk's jump to a deadline skips are logged as missed; that is the
    # walk, not news.
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    args.folder.mkdir(parents=True, exist_ok=True)
    transcripts = walk(args.folder)
    found = findings(transcripts)
    print(f"{len(transcripts)} transcripts written to {args.folder}")
    for finding in found:
        print(finding)
    print(f"{len(found)} finding(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
