"""Done when (issue 12, item 4): a form with a `file` question works end to end through
the bot; a 30 MB file and a file of a wrong kind are refused with a clear message and
nothing is stored; the export (zip in chat, `huibao export --files DIR`) holds exactly the
bytes sent, checked by their SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select, update

from bot.cli import main
from models.files import StoredFile
from models.rounds import Answer
from tests.double import FakeUser, SentMessage
from tests.report.conftest import County
from tests.report.test_revisions import open_from_list
from tests.sheets import table_rows

MB = 1024 * 1024
PDF = b"%PDF-1.7\n" + os.urandom(300 * 1024) + b"\n%%EOF\n"
"""A scan as a school sends it: random bytes, so that any change to them would show."""
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def stored_files(county: County) -> int:
    async with county.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(StoredFile)) or 0)


async def at_scan_question(county: County, user: FakeUser, round_id: int) -> SentMessage:
    await open_from_list(user, round_id, "核定编制数")
    await user.send("48")
    return await user.wait_for("编制表盖章扫描件")


async def test_a_scan_is_refused_too_large_or_of_a_wrong_kind_then_taken_and_exported(
    county: County, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    round_ = await county.open_round("staffing_scan", "2026")
    user = county.user("principal:S001")
    question = await at_scan_question(county, user, round_.id)
    text = question.plain or ""
    assert "可接受：PDF 文件、照片或图片（JPG、PNG）；不超过 10 MB" in text
    assert "请在此发送文件" in text

    # Typed words are no answer to a file question.
    await user.send("已盖章")
    await user.wait_for("“编制表盖章扫描件”需要上传文件")

    # 30 MB: refused from the size Telegram tells, before anything is downloaded.
    mark = user.mark()
    await user.send_document(b"%PDF-" + bytes(30 * MB), "编制表.pdf", "application/pdf")
    big = await user.wait_for("文件过大", after=mark)
    assert "30.0 MB" in (big.plain or "") and "最多接受 10 MB" in (big.plain or "")
    assert "编制表盖章扫描件" in (big.plain or "")  # the same question is asked again
    assert county.tg.method_count("getFile") == 0
    assert await stored_files(county) == 0

    # A Word document is not a PDF or a picture.
    mark = user.mark()
    await user.send_document(b"PK\x03\x04" + bytes(100), "编制表.docx", DOCX_MIME)
    wrong = await user.wait_for("只接受", after=mark)
    assert "PDF 文件、照片或图片（JPG、PNG）" in (wrong.plain or "")
    assert county.tg.method_count("getFile") == 0
    # Named a PDF, but its bytes are not one: refused once they are seen.
    mark = user.mark()
    await user.send_document(b"<html>not a scan</html>", "编制表.pdf", "application/pdf")
    await user.wait_for("只接受", after=mark)
    assert await stored_files(county) == 0

    # The real scan: taken, and the next (optional) question follows.
    mark = user.mark()
    await user.send_document(PDF, "编制表盖章扫描件.pdf", "application/pdf")
    taken = await user.wait_for("已收到文件", after=mark)
    assert "📎 编制表盖章扫描件.pdf（300 KB）" in (taken.plain or "")
    assert "教职工名册" in (taken.plain or "")
    await user.press(taken, "跳过")
    review = await user.wait_for("请核对答案")
    assert "📎 编制表盖章扫描件.pdf（300 KB）" in (review.plain or "")
    # At the review a file answers nothing: not stored, the review shown again.
    mark = user.mark()
    await user.send_document(PDF, "另一份.pdf", "application/pdf")
    review = await user.wait_for("这里不需要文件，所以文件未保存", after=mark)
    assert "请核对答案" in (review.plain or "")
    await user.press(review, "✅ 提交")
    receipt = (await user.wait_for("回执编号")).plain or ""
    assert "已提交的文件：\n📎 编制表盖章扫描件.pdf（300 KB）" in receipt
    assert await stored_files(county) == 1

    # In chat: the workbook, and under it the files as a zip.
    staff = county.user("staff")
    await staff.send("/export")
    await staff.press(await staff.wait_for("选择要导出的"), "编制情况及盖章扫描件")
    book = await staff.wait_for(lambda m: m.document is not None)
    sheet = table_rows(openpyxl.load_workbook(io.BytesIO(await staff.download(book))), "明细")
    column = sheet[0].index("编制表盖章扫描件")
    [s001] = [row for row in sheet if row[0] == "S001"]
    assert s001[column] == "📎 编制表盖章扫描件.pdf（300 KB）"  # the name; the bytes are in the zip
    await staff.press(book, "📎 文件（zip）")
    zipped = await staff.wait_for(lambda m: m.document is not None and m is not book)
    assert "学校上传的文件共 1 个" in (zipped.plain or "")
    with zipfile.ZipFile(io.BytesIO(await staff.download(zipped))) as archive:
        names = archive.namelist()
        assert names == ["S001-城关第一小学/stamped_scan-编制表盖章扫描件.pdf", "SHA256SUMS.txt"]
        assert hashlib.sha256(archive.read(names[0])).digest() == hashlib.sha256(PDF).digest()
        sums = archive.read("SHA256SUMS.txt").decode()
    assert sums == f"{hashlib.sha256(PDF).hexdigest()}  {names[0]}\n"

    # From the command line: the same bytes, in a folder per school.
    monkeypatch.setenv("HUIBAO_DATABASE__URL", county_db(county))
    monkeypatch.chdir(tmp_path)
    args = ["export", "--round", str(round_.id), "--files", "files"]
    assert await asyncio.to_thread(main, args) == 0
    written = tmp_path / "files" / "S001-城关第一小学" / "stamped_scan-编制表盖章扫描件.pdf"
    assert hashlib.sha256(written.read_bytes()).hexdigest() == hashlib.sha256(PDF).hexdigest()
    assert (tmp_path / "files" / "SHA256SUMS.txt").read_text() == sums
    # The DHIS2 file has the figures only: a file is no data value.
    args = ["export", "--round", str(round_.id), "--format", "dhis2", "--out", "d.csv"]
    assert await asyncio.to_thread(main, args) == 0
    dhis2 = (tmp_path / "d.csv").read_text()
    assert "authorized_posts" in dhis2 and "stamped_scan" not in dhis2

    # Bytes changed behind the bot's back are not sent as the school's.
    async with county.sessionmaker() as session, session.begin():
        await session.execute(update(StoredFile).values(data=PDF[:-1] + b"!"))
    mark = staff.mark()
    await staff.press(book, "📎 文件（zip）")
    damaged = await staff.wait_for("不一致", after=mark)
    assert "未发送文件" in (damaged.plain or "")
    args = ["export", "--round", str(round_.id), "--files", "f2"]
    assert await asyncio.to_thread(main, args) == 2


def county_db(county: County) -> str:
    url: str = county.app.bot_data["services"].settings.database.url
    return url


async def test_a_photo_answers_the_scan_in_english_and_a_large_workbook_is_refused(
    county: County,
) -> None:
    round_ = await county.open_round("staffing_scan", "2026")
    deputy = county.user("deputy:S001")
    await deputy.send("/report")
    listing = await deputy.wait_for("reports")
    await deputy.press(listing, f"rp:o:{round_.id}")
    await deputy.wait_for("Authorized posts")
    # A file while a question takes typed figures: not taken, the question stays.
    mark = deputy.mark()
    await deputy.send_photo(b"\xff\xd8\xff\xe0" + bytes(100))
    typed = await deputy.wait_for("takes a typed answer, not a file", after=mark)
    assert "Authorized posts" in (typed.plain or "")
    await deputy.send("48")
    question = await deputy.wait_for("Stamped scan of the staffing table")
    assert "Accepted: PDF, photo or picture (JPG, PNG); at most 10 MB" in (question.plain or "")
    photo = b"\xff\xd8\xff\xe0" + os.urandom(50 * 1024)
    mark = deputy.mark()
    await deputy.send_photo(photo)
    taken = await deputy.wait_for("File received", after=mark)
    assert "Staff list workbook" in (taken.plain or "")
    assert "at most 2 MB" in (taken.plain or "")
    # The workbook question takes 2 MB at most, and only a workbook.
    mark = deputy.mark()
    await deputy.send_document(b"PK\x03\x04" + bytes(3 * MB), "名册.xlsx", XLSX_MIME)
    refused = await deputy.wait_for("too large", after=mark)
    assert "accepts at most 2 MB" in (refused.plain or "")
    mark = deputy.mark()
    await deputy.send_document(PDF, "名册.pdf", "application/pdf")
    refused_again = await deputy.wait_for("accepts only: Excel workbook (.xlsx)", after=mark)
    async with county.sessionmaker() as session:
        rows = list((await session.execute(select(StoredFile))).scalars())
    assert [(r.field, r.mime, r.size) for r in rows] == [("stamped_scan", "image/jpeg", len(photo))]
    assert rows[0].sha256 == hashlib.sha256(photo).hexdigest()

    # From the review, ✏️ the scan and send a PDF instead: the new file is the answer.
    await deputy.press(refused_again, "Skip")
    review = await deputy.wait_for("please check your answers")
    assert "📎 photo-" in (review.plain or "")
    await deputy.press(review, "✏️ 2")
    await deputy.wait_for("Current answer: 📎 photo-")
    mark = deputy.mark()
    await deputy.send_document(PDF, "scan.pdf", "application/pdf")
    await deputy.wait_for("File received: 📎 scan.pdf (300 KB)", after=mark)
    async with county.sessionmaker() as session:
        answer = await session.scalar(
            select(Answer.value_text).where(Answer.field == "stamped_scan")
        )
    assert answer is not None and answer.endswith("|scan.pdf")
