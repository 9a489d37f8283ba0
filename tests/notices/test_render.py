"""What recipients see: Telegram's length rules, the file with or after the text, languages."""

from __future__ import annotations

import html

from models.notices.titles import derived_title
from texts.notices.messages import (
    MAX_CAPTION,
    MAX_TEXT,
    NoticeContent,
    notice_messages,
    telegram_length,
    text_limit,
)

BUREAU = "青山县教育局"


def test_length_is_counted_like_telegram() -> None:
    # Tags do not count, entities count once, characters outside the BMP count twice.
    assert telegram_length("<b>通知</b> &amp; 附件") == len("通知 & 附件")
    assert telegram_length("📢") == 2


def test_the_longest_allowed_text_fits_in_every_language() -> None:
    limit = text_limit(BUREAU)
    assert 3900 < limit < MAX_TEXT
    for language in ("zh_CN", "en"):
        content = NoticeContent(text="通" * limit, requires_ack=True)
        (message,) = notice_messages(content, language, BUREAU, ack_data="nack:1")
        assert telegram_length(message.text) <= MAX_TEXT
    too_long = NoticeContent(text="通" * (limit + 1), requires_ack=True)
    longest = max(
        telegram_length(notice_messages(too_long, lang, BUREAU, ack_data="x")[0].text)
        for lang in ("zh_CN", "en")
    )
    assert longest > MAX_TEXT


def test_a_short_text_is_the_files_caption_and_a_long_one_follows_the_file() -> None:
    short = NoticeContent("关于冬季安全的通知", True, "document", "FILE", "方案.pdf")
    (one,) = notice_messages(short, "zh_CN", BUREAU, ack_data="nack:3")
    assert one.kind == "document" and one.file_id == "FILE"
    assert "青山县教育局通知" in one.text and one.keyboard[0][0].callback_data == "nack:3"

    long = NoticeContent("长" * MAX_CAPTION, True, "photo", "PHOTO", "photo.jpg")
    first, second = notice_messages(long, "en", BUREAU, ack_data="nack:3")
    assert first.kind == "photo" and not first.keyboard
    assert telegram_length(first.text) <= MAX_CAPTION and "photo.jpg" in first.text
    assert second.kind == "text" and second.keyboard[0][0].text == "✅ Acknowledge"


def test_no_button_when_no_acknowledgement_is_asked() -> None:
    (message,) = notice_messages(NoticeContent("通知", False), "zh_CN", BUREAU, ack_data="x")
    assert message.keyboard == () and "已阅" not in message.text


def test_the_bureau_name_and_file_names_are_escaped() -> None:
    content = NoticeContent("x" * 2000, True, "document", "F", "<a>.pdf")
    first, _second = notice_messages(content, "zh_CN", "<县>", ack_data="x")
    assert html.escape("<a>.pdf") in first.text
    assert "&lt;县&gt;" in _second.text


def test_titles_of_older_notices_are_the_first_line_cut_at_a_boundary() -> None:
    assert derived_title("<b>关于期末考试的通知</b>\n正文") == "关于期末考试的通知"
    assert derived_title("\n\n" + "很" * 60) == "很" * 29 + "…"
    # Cut where a clause ends, not in the middle of a word.
    long = "关于做好2026年冬季校园安全工作，以及寒假前后学生安全教育的通知"
    assert derived_title(long) == "关于做好2026年冬季校园安全工作…"
    english = "Notice on the winter safety inspection of all primary and junior schools"
    assert derived_title(english) == "Notice on the winter safety…"
