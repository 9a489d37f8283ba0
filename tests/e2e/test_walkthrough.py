"""The "Try it" flows (docs/try-it.md), walked in zh_CN and en (bot/walkthrough.py): the transcripts
in docs/transcripts/ are what the bot says today, and they show nothing issue 11 forbids."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.walkthrough import (
    DEFAULT_DIR,
    Chat,
    Exchange,
    Flow,
    Say,
    Tap,
    Transcript,
    Walker,
    findings,
    walk,
)

REGENERATE = "regenerate them with `.venv/bin/python -m bot.walkthrough` and review the diff"



@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Transcript]]:
    folder = tmp_path_factory.mktemp("transcripts")
    return folder, walk(folder)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and (path.suffix != ".md" or path.parent == folder)
    }


def test_the_transcripts_in_the_repository_are_up_to_date(
    walked: tuple[Path, list[Transcript]],
) -> None:
    folder, transcripts = walked
    assert len(transcripts) == 16  # eight flows, two languages
    now, checked_in = _files(folder), _files(DEFAULT_DIR)
    assert sorted(now) == sorted(checked_in), REGENERATE
    changed = [name for name in now if now[name] != checked_in[name]]
    assert not changed, f"{changed} changed: {REGENERATE}"


def test_the_walk_leaves_the_real_clock_behind(walked: tuple[Path, list[Transcript]]) -> None:
    """The walk runs inside the test process: the tests after it keep the real time."""
    from models import base
    from scheduler import delivery
    from transport.context import Services

    assert base.utcnow.__module__ == "models.base"
    assert delivery.utcnow is base.utcnow
    assert Services.__dataclass_fields__["clock"].default is base.utcnow


def test_the_walk_shows_what_each_person_sees_in_both_languages(
    walked: tuple[Path, list[Transcript]],
) -> None:
    folder, _transcripts = walked
    onboarding = (folder / "onboarding.zh_CN.md").read_text(encoding="utf-8")
    assert "您将以城关学区示范县第一中学的校长身份加入。" in onboarding
    assert "[1] 确认  [2] 取消" in onboarding
    report = (folder / "report.en.md").read_text(encoding="utf-8")
    assert "✅ Submitted: Staffing and teachers (2026)" in report
    admin = (folder / "admin.zh_CN.md").read_text(encoding="utf-8")
    # The console keeps the invitation's QR code and says where.
    assert "bot> [file] invitation-" in admin and "→ files/admin.zh_CN/invitation-" in admin
    export = (folder / "export.en.md").read_text(encoding="utf-8")
    assert "→ files/export.en/Staffing_and_teachers-2026.xlsx" in export
    workbook = folder / "files" / "export.zh_CN" / "编制与师资配备-2026.xlsx"
    assert workbook.read_bytes()[:2] == b"PK"
    # At the deadline the scheduler sends staff the summary with its charts.
    deadline = (folder / "deadline.zh_CN.md").read_text(encoding="utf-8")
    assert "bot> [file] chart-1.png → files/deadline.zh_CN/chart-1.png" in deadline
    assert (folder / "files" / "deadline.zh_CN" / "chart-1.png").read_bytes()[:4] == b"\x89PNG"


def test_nobody_meets_silence_ascii_punctuation_or_cut_buttons(
    walked: tuple[Path, list[Transcript]],
) -> None:
    _folder, transcripts = walked
    found = findings(transcripts)
    assert not found, "\n".join(str(f) for f in found)


def _transcript(language: str, said: str, *shown: str) -> Transcript:
    transcript = Transcript(Flow("demo", "a demo", ()), language)
    transcript.exchanges.append(Exchange(said, list(shown)))
    return transcript


@pytest.mark.parametrize(
    ("language", "shown", "kind"),
    [
        ("zh_CN", [], "no answer"),
        ("zh_CN", ["(to 42) bot> 您好"], "no answer"),
        ("zh_CN", ["bot> 东河镇: 6"], "ASCII punctuation"),
        ("zh_CN", ["bot> • 西山初级中学 (未开始)"], "ASCII punctuation"),
        ("zh_CN", ["bot> 选择\n     [1] 城关学区(3)"], "ASCII punctuation"),
        ("en", ["bot> Pick one\n     [1] Teacher training complet…  [2] Back"], "truncated button"),
        ("zh_CN", ["bot (edited)> 请选择\n     [1] 编制与师资…"], "truncated button"),
        ("en", ["bot> Key totals (1 schools reported)"], "plural after 1"),
    ],
)
def test_the_checks_find_what_issue_11_forbids(
    language: str, shown: list[str], kind: str
) -> None:
    found = findings([_transcript(language, "hello", *shown)])
    assert [f.kind for f in found] == [kind]


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("zh_CN", ["bot> 东河镇：6"]),
        ("zh_CN", ["bot (alert)> 已提醒。"]),
        ("en", ["bot> Dong He: 6 (3 schools)"]),  # ASCII is right in English
        ("en", ["bot> 1 school reported; 21 schools, 0.1 people"]),
        ("zh_CN", ["bot> [file] 汇总.xlsx → files/x/汇总.xlsx"]),
        ("zh_CN", ["bot> 第 5 步\n     [1] 立即发送  [2] 定时发送……"]),  # a step follows
    ],
)
def test_the_checks_pass_what_is_right(language: str, shown: list[str]) -> None:
    assert findings([_transcript(language, "hello", *shown)]) == []


def test_a_walk_in_a_folder_of_its_own_touches_no_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "configured.db"
    monkeypatch.setenv("HUIBAO_DATABASE__URL", f"sqlite+aiosqlite:///{elsewhere}")
    walker = Walker("en", tmp_path, tmp_path / "out")
    assert walker.settings.database.url.endswith(str(tmp_path / "huibao.db"))
    assert walker.settings.bureau.name == "教育局"


def test_a_message_sent_to_several_people_is_found_once() -> None:
    summary = "bot> 核定编制数: 62人"
    transcript = _transcript("zh_CN", "/status", f"(to 1) {summary}", f"(to 2) {summary}", summary)
    found = findings([transcript])
    assert [(f.kind, f.text) for f in found] == [("ASCII punctuation", "核定编制数: 62人")]


def test_a_button_the_script_cannot_find_is_reported(tmp_path: Path) -> None:
    """When a flow changes under the script, the walk says so instead of going on blind."""
    flow = Flow(
        "astray",
        "a flow that changed",
        (
            Chat(
                "admin",
                ("/menu", Tap(Say("人员", "People")), Tap("🦄"), Tap("📊", optional=True)),
            ),
        ),
    )
    (transcript,) = Walker("en", tmp_path, tmp_path / "out").walk((flow,))
    text = "\n".join(transcript.lines)
    assert "you> /menu" in text and "bot> Home · Console admin" in text
    assert "you> 3\nbot (edited)> People" in text  # the People button, found by its words
    assert "# (no button with 🦄 to press here)" in text
    assert [(f.kind, f.said) for f in findings([transcript])] == [("no such button", "🦄")]
