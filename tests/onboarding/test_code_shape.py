"""Every code Huibao makes is taken as a code however it is typed, and free text is not.

About 1 code in 400 has no digit ((22/32)^16); `looks_like_code` used to demand one, so
those codes could never be redeemed by typing or by link.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.db import transaction
from models.roster.invites import (
    ALPHABET,
    CODE_LENGTH,
    InviteAttempt,
    display,
    looks_like_code,
    new_code,
    normalize,
)
from models.roster.tables import School
from tests.onboarding.conftest import OWN, make_invite

Sessions = async_sessionmaker[AsyncSession]
DIGIT_FREE = "ABCDEFGHJKMNPQRS"
LETTERS = "".join(c for c in ALPHABET if not c.isdigit())

# The ways people type a code they read on paper or copy from a message.
TYPINGS: dict[str, Callable[[str], str]] = {
    "as made": lambda c: c,
    "lower case": str.lower,
    "printed": display,
    "printed, lower case": lambda c: display(c).lower(),
    "spaces": lambda c: display(c).replace("-", " "),
    "two halves": lambda c: f"{c[:8]} {c[8:]}",
    "padded": lambda c: f"  {c}\n",
    "O for zero, I and l for one": lambda c: display(c).replace("0", "O").replace("1", "l"),
}

codes = st.text(alphabet=ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH)
digit_free_codes = st.text(alphabet=LETTERS, min_size=CODE_LENGTH, max_size=CODE_LENGTH)


@settings(max_examples=500, deadline=None)
@given(code=st.one_of(codes, digit_free_codes), typing=st.sampled_from(sorted(TYPINGS)))
def test_any_code_is_taken_as_a_code_however_it_is_typed(code: str, typing: str) -> None:
    typed = TYPINGS[typing](code)
    assert looks_like_code(typed), typed
    assert normalize(typed) == code


def test_every_generated_code_is_accepted() -> None:
    made = [new_code() for _ in range(20_000)]
    without_digit = [c for c in made if not any(ch.isdigit() for ch in c)]
    # About 50 expected; none at all would mean the generator changed, not that we are safe.
    assert without_digit
    for code in made:
        for typing in TYPINGS.values():
            assert looks_like_code(typing(code)) and normalize(typing(code)) == code, code


def test_a_code_without_a_digit_is_a_code() -> None:
    for typed in (DIGIT_FREE, display(DIGIT_FREE), display(DIGIT_FREE).lower()):
        assert looks_like_code(typed), typed


@pytest.mark.parametrize(
    "text",
    [
        "hello there friend",  # 16 letters that normalize, but words, not groups of 4
        "Thank you very much",
        "good morning",
        "I am the new principal",
        "internationalization",
        "请问怎么加入",
        "你好 ABCD",
        "1234",
        "",
    ],
)
def test_free_text_is_not_a_code(text: str) -> None:
    assert not looks_like_code(text)


@pytest.mark.parametrize(
    "typed", ["ABCD-EFGH-JKMN-PQR5", "abcd efgh jkmn pqr5 x", "ABC1-EFGH-JKMN"]
)
def test_a_mistyped_code_with_a_digit_still_gets_an_answer(typed: str) -> None:
    # Wider than a valid code, so "unknown code" is said rather than the joining hint.
    assert looks_like_code(typed)


async def test_a_digit_free_invitation_joins_by_typing_and_by_link(
    bot: Any, county: dict[str, School], sessionmaker: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("models.roster.invites.new_code", lambda: DIGIT_FREE)
    code = await make_invite(sessionmaker, school=OWN)
    assert code == DIGIT_FREE
    async with bot() as running:
        typed = running.tg.user(1001, "王校长")
        await typed.send(display(code).lower())
        await typed.wait_for("身份加入")
        linked = running.tg.user(1002, "李校长")
        await linked.send(f"/start {code}")
        offer = await linked.wait_for("身份加入")
        await linked.press(offer, "确认")
        await linked.wait_for("欢迎")
        # Words still get the hint, and are not counted as wrong codes.
        stranger = running.tg.user(1003, "路人")
        await stranger.send("hello there friend")
        await stranger.wait_for("输入邀请码")
    async with transaction(sessionmaker) as session:
        attempts = (await session.execute(select(func.count(InviteAttempt.id)))).scalar_one()
    assert attempts == 0
