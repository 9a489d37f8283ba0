"""What the walkthrough walks: the "Try it" flows of docs/try-it.md, line by line.

Each `Flow` is the commands it runs (`Shell`) and the conversations it has (`Chat`: what is
said, which buttons are tapped, how long it waits), in both languages. bot/walkthrough.py
walks them and writes the transcripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

# --- what is walked ----------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    """Text a person types that differs by language (a notice, a period)."""

    zh_CN: str
    en: str

    def text(self, language: str) -> str:
        return self.zh_CN if language == "zh_CN" else self.en


@dataclass(frozen=True)
class Tap:
    """Press the first button of the latest message whose label contains `label`.

    The transcript shows the number pressed, as a person types it; the walk finds it by
    its words so that it presses the same button when buttons are added or reordered.
    When there is no such button the transcript says so, the walk goes on, and the checks
    report it (unless `optional`: a button another feature may add)."""

    label: str | Say
    optional: bool = False


@dataclass(frozen=True)
class Wait:
    """Time passes to `until` (UTC) and the scheduler ticks once, as the running bot would."""

    until: datetime


Line = str | Say | Tap | Wait


@dataclass(frozen=True)
class Shell:
    """A `huibao` command typed in a terminal."""

    args: tuple[str, ...]


@dataclass(frozen=True)
class Chat:
    """One `huibao console` run: who you are and what you type."""

    who: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Flow:
    name: str
    title: str
    steps: tuple[Shell | Chat, ...]


# A demo code as `demo-data` prints it; the walk types the first one printed.
FIRST_CODE = "{code}"

# The staffing form's answers from question 2 on, as typed: a backslash sends a number as
# text while buttons are shown (docs/try-it.md's "\\35").
_ANSWERS = (
    "\\57", "48", "\\3", "30", "12", "\\3", "\\4", "\\2", "\\1", "\\1", "\\0", "\\1",
    "\\0", "\\0", "\\1",
)
_STAFFING = Say("编制与师资配备", "Staffing")
_TRAINING = Say("教师培训", "Teacher training")
# In Chinese the subjects are buttons; in English they are numbered text, pressed by number.
_IT = Tap(Say("信息技术", "13"))
_CONFIRM = Tap(Say("确认", "Confirm"), optional=True)
_NOTICE_TITLE = Say("关于教师培训学时登记的通知", "Teacher training hours")
_NOTICE = Say(
    "各校：请于12月20日前完成2026年度教师培训学时登记，逾期系统将关闭。",
    "To all schools: please record this year's teacher training hours by 20 December; "
    "the system closes after that.",
)

_WHY = Say(
    "本校有 3 名教师正在参加学历提升，明年毕业。",
    "Three of our teachers are studying for a higher degree and finish next year.",
)

FLOWS: tuple[Flow, ...] = (
    Flow(
        "admin",
        "The demo county, as the bureau's administrator",
        (
            Shell(("demo-data",)),
            Chat("admin", ("/menu", "2", "3", "/people", "/invite 3611230002", "1",
                           Tap(Say("确认", "Confirm")), "/help")),
        ),
    ),
    Flow(
        "onboarding",
        "A principal joins with an invitation code",
        (Chat("newcomer", ("你好", FIRST_CODE, "1", "/menu", "/help")),),
    ),
    Flow(
        "report",
        "A principal fills in a report, stops, and goes on in a later run",
        (
            Shell(
                (
                    "rounds", "open", "--form", "staffing", "--period", "2026",
                    "--deadline", "12-31 17:00", "--no-announce",
                )
            ),
            Chat("principal:3611230016", ("/report", "1", "62")),
            Chat(
                "principal:3611230016",
                (
                    "/report", "1", *_ANSWERS, _IT, Tap("✓"), Tap(Say("提交", "Submit")), _WHY,
                    # Issue 11, item 1: what a principal types when nothing is asked.
                    "85", "你好，请问报表怎么填？", "/foo", "/menu",
                ),
            ),
        ),
    ),
    Flow(
        "round",
        "Staff open a round in chat",
        (
            Chat(
                "staff",
                (
                    "/round", Tap("➕"), Tap(_TRAINING), "1", Tap(Say("7 天后", "in 7 days")),
                    Tap("西山乡"), Tap(Say("初中", "Junior")), Tap("➡"), Tap("✅"), "/round",
                ),
            ),
        ),
    ),
    Flow(
        "status",
        "Staff follow the rounds with /status and remind late schools",
        (
            Chat(
                "staff",
                (
                    # "Remind now" asks first when someone can be reached.
                    "/status", Tap(_STAFFING), Tap("西山乡"), Tap("🔔"), _CONFIRM,
                    "/status", Tap(_TRAINING), Tap("西山乡"), Tap("🔔"), _CONFIRM,
                ),
            ),
        ),
    ),
    Flow(
        "export",
        "Staff export a round's workbook",
        (Chat("staff", ("/export", Tap(_STAFFING), Tap("📊", optional=True))),),
    ),
    Flow(
        "deadline",
        "At the deadline: the summary staff receive, with its charts and workbook",
        # The staffing round ends 2026-12-31 17:00 in Beijing (09:00 UTC).
        (
            Chat(
                "staff",
                (Wait(datetime(2026, 12, 31, 9, 0, tzinfo=UTC)), "/status", Tap(_TRAINING)),
            ),
        ),
    ),
    Flow(
        "notices",
        "Staff send a notice; a principal reads it",
        (
            Chat("staff", ("/notice", _NOTICE_TITLE, _NOTICE, "1", "1", "1", "1", "1", "1",
                           "/notices", "1")),
            Chat("principal:3611230016", ("/notices", "1", "1", "1")),
        ),
    ),
)
