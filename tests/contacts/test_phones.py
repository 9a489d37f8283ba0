"""What a phone number is, as people in China write it, and who may see a school's."""

from __future__ import annotations

import pytest

from models.roster.phones import Phones, combine, may_see_phones, normalise
from models.roster.tables import Role


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("8613812345678", "13812345678"),  # Telegram's contacts come without the +
        ("0086 13812345678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),  # full-width digits
        ("0731-84123456", "0731-84123456"),
        ("0731 8412 3456", "0731-84123456"),
        ("(010) 6512 3456", "010-65123456"),
        ("（0755）2345678", "0755-2345678"),
        ("+86 731 84123456", "0731-84123456"),  # dialled from abroad: no leading 0
    ],
)
def test_numbers_are_stored_normalised(typed: str, stored: str) -> None:
    assert normalise(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["", "abc", "12345678901", "1381234567", "138123456789", "84123456", "+1 415 555 0100",
     "0731-0123456", "电话13812345678"],
)
def test_what_is_not_a_number_is_refused(typed: str) -> None:
    assert normalise(typed) is None


def test_the_principals_own_number_comes_before_the_rosters() -> None:
    assert combine("0731-1", "13900000000", [None, "13812345678"]) == Phones(
        "0731-1", "13812345678"
    )
    assert combine(None, "13900000000", [None]) == Phones(None, "13900000000")
    assert not combine(None, None, [])


def test_only_staff_and_the_schools_district_officers_see_phones() -> None:
    assert may_see_phones(Role.STAFF, None, 3)
    assert may_see_phones(Role.ADMIN, None, 3)
    assert may_see_phones(Role.DISTRICT_OFFICER, 3, 3)
    assert not may_see_phones(Role.DISTRICT_OFFICER, 4, 3)
    assert not may_see_phones(Role.DISTRICT_OFFICER, None, 3)
    for role in (Role.PRINCIPAL, Role.DEPUTY, Role.NONE):
        assert not may_see_phones(role, 3, 3)
