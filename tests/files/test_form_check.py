"""The form checker on file questions: kinds, max_mb, and keys other types do not take;
and which kind a file is, from the type Telegram reports, its name and its first bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.files import check_bytes, check_upload, kind_of
from models.forms import FormDef, check_forms, load_forms
from tests.forms.test_check import HEADER

FIXTURES = Path(__file__).parent / "fixtures"


def problems(tmp_path: Path, body: str) -> list[str]:
    (tmp_path / "form.toml").write_text(HEADER.format(code="t", version=1) + body, "utf-8")
    return [p.reason for p in check_forms(tmp_path)]


def file_field(**extra: str) -> str:
    lines = ["[[fields]]", 'code = "scan"', 'type = "file"', 'label.zh = "扫描件"',
             'label.en = "Scan"']
    return "\n".join(lines + [f"{k} = {v}" for k, v in extra.items()]) + "\n"


def scan_form() -> FormDef:
    return load_forms(FIXTURES).get("staffing_scan")


def test_the_fixture_form_checks_clean() -> None:
    assert check_forms(FIXTURES) == []
    scan = scan_form().field("stamped_scan")
    assert (scan.kinds, scan.max_mb, scan.required) == (("pdf", "image"), None, True)


def test_a_file_field_without_kinds_takes_every_kind(tmp_path: Path) -> None:
    assert problems(tmp_path, file_field()) == []


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"kinds": '["pdf", "word"]'}, "unknown file kind 'word'"),
        ({"kinds": '["imgae"]'}, "unknown file kind 'imgae' (did you mean 'image'?)"),
        ({"kinds": '"pdf"'}, "kinds must be a list of file kinds"),
        ({"kinds": "[]"}, "kinds must be a list of file kinds"),
        ({"max_mb": "30"}, "max_mb must be from 1 to 20, not 30"),
        ({"max_mb": "0"}, "max_mb must be from 1 to 20, not 0"),
        ({"min": "1"}, "file fields take no min"),
    ],
)
def test_mistakes_in_a_file_field_are_named(
    tmp_path: Path, extra: dict[str, str], reason: str
) -> None:
    found = problems(tmp_path, file_field(**extra))
    assert any(reason in p for p in found), found


def test_only_file_fields_have_kinds_and_max_mb(tmp_path: Path) -> None:
    body = "\n".join(
        ["[[fields]]", 'code = "n"', 'type = "integer"', 'label.zh = "数"', 'label.en = "N"',
         'kinds = ["pdf"]', "max_mb = 5"]
    )
    found = problems(tmp_path, body + "\n")
    assert "only file fields have kinds" in found
    assert "only file fields have max_mb" in found


def test_a_files_kind_comes_from_its_type_and_name_and_they_must_agree() -> None:
    assert kind_of("盖章扫描件.PDF", "") == "pdf"
    assert kind_of("scan", "application/pdf") == "pdf"
    assert kind_of("photo.jpg", "image/jpeg") == "image"
    assert kind_of("名册.xlsx", "application/octet-stream") == "xlsx"
    assert kind_of("scan.pdf", "image/png") is None  # they disagree
    assert kind_of("名册.docx", None) is None
    assert kind_of(None, None) is None


def test_the_limit_is_the_fields_own_else_the_setting() -> None:
    form = scan_form()
    scan, book = form.field("stamped_scan"), form.field("staff_workbook")
    mb = 1024 * 1024
    assert check_upload(scan, 10, "a.pdf", "application/pdf", 10 * mb) is None
    too_big = check_upload(scan, 10, "a.pdf", "application/pdf", 10 * mb + 1)
    assert too_big is not None and (too_big.reason, too_big.max_mb) == ("too_large", 10)
    refused = check_upload(book, 10, "a.xlsx", None, 3 * mb)
    assert refused is not None and refused.max_mb == 2
    unknown_size = check_upload(scan, 10, "a.pdf", "application/pdf", None)
    assert unknown_size is not None and unknown_size.reason == "too_large"
    wrong = check_upload(scan, 10, "a.xlsx", None, 100)
    assert wrong is not None and wrong.reason == "wrong_kind"
    assert check_bytes(scan, 10, b"%PDF-1.4 ...", "pdf") is None
    bad = check_bytes(scan, 10, b"GIF89a", "image")
    assert bad is not None and bad.reason == "wrong_kind"
