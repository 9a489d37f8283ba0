"""A notice's title (标题): what lists, reminders and receipts call it.

Staff give it (asked first in chat, `--title` on the command line); a notice stored before
titles existed gets one from its first line (migration 0013_notice_title), cut where a word
or a clause ends rather than in the middle of one.
"""

from __future__ import annotations

import html
import re

# Long enough for 「关于报送2026年秋季学期教师培训情况的通知」, short enough for a button.
TITLE_MAX = 30

_TAG = re.compile(r"<[^>]*>")
# Where a cut reads naturally: after a space or a punctuation mark (either width).
_BREAK = re.compile(r"[\s，。、；：！？,.;:!?）)」』》】—-]")


def plain(text_html: str) -> str:
    """The text Telegram shows for our HTML (tags removed, entities decoded)."""
    return html.unescape(_TAG.sub("", text_html))


def clean_title(raw: str) -> str:
    """A typed title on one line, its runs of spaces made one."""
    return " ".join(raw.split())


def first_line(text_html: str) -> str:
    return next((line.strip() for line in plain(text_html).splitlines() if line.strip()), "")


def derived_title(text_html: str, limit: int = TITLE_MAX) -> str:
    """The title of a notice that has none: its first line, cut at a boundary when long."""
    line = clean_title(first_line(text_html))
    if len(line) <= limit:
        return line
    head = line[: limit - 1]
    breaks = [m.end() for m in _BREAK.finditer(head)]
    # A boundary in the first half would throw away most of the line: cut hard instead.
    cut = breaks[-1] if breaks and breaks[-1] > limit // 2 else len(head)
    return head[:cut].rstrip(" ，、；：,;:—-") + "…"
