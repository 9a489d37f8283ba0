"""Invitation codes: random, hashed, single use, expiring, throttled; the CLI that makes them."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from models.base import utcnow
from models.db import transaction
from models.roster.invites import (
    ALPHABET,
    CODE_LENGTH,
    Invite,
    InviteError,
    Outcome,
    check_code,
    deep_link,
    display,
    new_code,
    normalize,
    redeem,
    resolve_targets,
)
from models.roster.tables import AuditLog, Person, Role, School
from tests.onboarding.conftest import OTHER, OWN, make_invite, make_person, seed_county
from tests.onboarding.helpers import look
from tests.onboarding.invitation_sheet import read_invitation_sheet

Sessions = async_sessionmaker[AsyncSession]
PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def test_codes_are_random_url_safe_and_forgiving_to_type() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == CODE_LENGTH and set(c) <= set(ALPHABET) for c in codes)
    assert CODE_LENGTH * 5 >= 64  # bits: 32 symbols carry 5 bits each
    code = next(iter(codes))
    link = deep_link("@bureau_bot", code)
    assert link == f"https://t.me/bureau_bot?start={code}"
    assert PAYLOAD.match(link.rsplit("=", 1)[1])
    printed = display(code)
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", printed)
    for typed in (printed, printed.lower(), printed.replace("-", " "), f"  {code}\n"):
        assert normalize(typed) == code
    assert normalize("ABCD-EFGH-JKMN-PQRO") == "ABCDEFGHJKMNPQR0"  # O read as zero
    assert normalize("ABCD-EFGH-JKMN") is None
    assert normalize("请问怎么加入") is None


async def test_codes_are_stored_only_as_hashes(sessionmaker: Sessions) -> None:
    await seed_county(sessionmaker)
    code = await make_invite(sessionmaker, school=OWN)
    async with transaction(sessionmaker) as session:
        invite = (await session.execute(select(Invite))).scalar_one()
        assert invite.code_hash == hashlib.sha256(code.encode()).hexdigest()
        dump = " ".join(
            str(value)
            for row in (await session.execute(text("SELECT * FROM invites"))).all()
            for value in row
        ) + " ".join(
            str(value)
            for row in (await session.execute(text("SELECT details FROM audit_log"))).all()
            for value in row
        )
    assert code not in dump and display(code) not in dump


async def test_a_code_binds_once(sessionmaker: Sessions) -> None:
    await seed_county(sessionmaker)
    code = await make_invite(sessionmaker, school=OWN)
    wang = await make_person(sessionmaker, 101, name="王校长")
    li = await make_person(sessionmaker, 102, name="李某")
    async with transaction(sessionmaker) as session:
        person = await session.get(Person, wang.id)
        assert person is not None
        preview = await check_code(session, display(code), 101)
        assert preview.outcome is Outcome.OK and preview.school is not None
        assert (preview.school.code, preview.district.name if preview.district else "") == (
            OWN, "城关学区",
        )
        assert (await redeem(session, code, person)).ok
    async with transaction(sessionmaker) as session:
        person = await session.get(Person, wang.id)
        assert person is not None and person.role == "principal"
        school = await session.get(School, person.school_id)
        assert school is not None and school.code == OWN
        other = await session.get(Person, li.id)
        assert other is not None
        again = await redeem(session, code, other)
        assert again.outcome is Outcome.USED
        assert other.role == "none"
        changes = (
            await session.execute(select(AuditLog).where(AuditLog.action == "role.change"))
        ).scalars().all()
        assert any(
            c.target_id == wang.id and '"new_role": "principal"' in c.details for c in changes
        )


async def test_two_simultaneous_confirmations_bind_one_person(sessionmaker: Sessions) -> None:
    await seed_county(sessionmaker)
    code = await make_invite(sessionmaker, Role.DEPUTY, school=OWN)
    ids = [(await make_person(sessionmaker, 200 + n)).id for n in range(2)]

    async def confirm(person_id: int) -> Outcome:
        async with transaction(sessionmaker) as session:
            person = await session.get(Person, person_id)
            assert person is not None
            return (await redeem(session, code, person)).outcome

    outcomes = await asyncio.gather(*(confirm(i) for i in ids))
    assert sorted(outcomes) == sorted([Outcome.OK, Outcome.USED])


async def test_expired_and_superseded_codes_are_explained_not_counted(
    sessionmaker: Sessions,
) -> None:
    await seed_county(sessionmaker)
    old = await make_invite(
        sessionmaker, school=OWN, expires_in=timedelta(days=1), now=utcnow() - timedelta(days=2)
    )
    first = await make_invite(sessionmaker, school=OTHER)
    second = await make_invite(sessionmaker, school=OTHER)  # a reprint: the first stops working
    async with transaction(sessionmaker) as session:
        for _ in range(6):
            assert (await check_code(session, old, 300)).outcome is Outcome.EXPIRED
        assert (await check_code(session, first, 300)).outcome is Outcome.REVOKED
        assert (await check_code(session, second, 300)).outcome is Outcome.OK


async def test_five_wrong_codes_in_ten_minutes_make_you_wait(sessionmaker: Sessions) -> None:
    await seed_county(sessionmaker)
    good = await make_invite(sessionmaker, school=OWN)
    now = utcnow()
    async with transaction(sessionmaker) as session:
        for n in range(5):
            wrong = await check_code(session, new_code(), 400, now=now + timedelta(minutes=n))
            assert wrong.outcome is Outcome.UNKNOWN
        sixth = await check_code(session, good, 400, now=now + timedelta(minutes=5))
        assert sixth.outcome is Outcome.THROTTLED
        assert sixth.retry_at == now + timedelta(minutes=10)
        # Someone else is not affected.
        assert (await check_code(session, good, 401, now=now)).outcome is Outcome.OK
        # Once the first wrong attempt is ten minutes old, one more try is allowed.
        later = await check_code(session, good, 400, now=now + timedelta(minutes=10, seconds=1))
        assert later.outcome is Outcome.OK


async def test_a_school_keeps_its_principal_unless_the_invite_replaces(
    sessionmaker: Sessions,
) -> None:
    await seed_county(sessionmaker)
    staff = await make_person(sessionmaker, 500, Role.STAFF)
    old = await make_person(sessionmaker, 501, Role.PRINCIPAL, name="老校长", school=OWN)
    newcomer = await make_person(sessionmaker, 502, name="新校长")
    plain = await make_invite(sessionmaker, school=OWN)
    async with transaction(sessionmaker) as session:
        person = await session.get(Person, newcomer.id)
        assert person is not None
        taken = await redeem(session, plain, person)
        assert taken.outcome is Outcome.TAKEN and person.role == "none"
    replacing = await make_invite(sessionmaker, school=OWN, replace=True)
    async with transaction(sessionmaker) as session:
        person = await session.get(Person, newcomer.id)
        assert person is not None
        result = await redeem(session, replacing, person)
        assert result.ok and result.current_principal is not None
    async with transaction(sessionmaker) as session:
        previous = await session.get(Person, old.id)
        assert previous is not None and (previous.role, previous.school_id) == ("none", None)
        entry = (
            await session.execute(
                select(AuditLog).where(
                    AuditLog.action == "role.change", AuditLog.target_id == old.id
                ).order_by(AuditLog.id.desc())
            )
        ).scalars().first()
        assert entry is not None and entry.actor_id == newcomer.id
    del staff


async def test_the_database_allows_one_principal_per_school(sessionmaker: Sessions) -> None:
    schools = await seed_county(sessionmaker)
    await make_person(sessionmaker, 601, Role.PRINCIPAL, school=OWN)
    await make_person(sessionmaker, 602, Role.DEPUTY, school=OWN)
    await make_person(sessionmaker, 603, Role.DEPUTY, school=OWN)  # deputies may be several
    with pytest.raises(IntegrityError):
        async with transaction(sessionmaker) as session:
            session.add(
                Person(telegram_id=604, name="", role="principal", school_id=schools[OWN].id)
            )


async def test_targets_follow_the_rules_of_each_role(sessionmaker: Sessions) -> None:
    await seed_county(sessionmaker)
    await make_person(sessionmaker, 701, Role.PRINCIPAL, school=OWN)
    async with transaction(sessionmaker) as session:
        everyone = await resolve_targets(session, Role.PRINCIPAL, all_schools=True)
        assert len(everyone.schools) == 28 and [s.code for s in everyone.skipped] == [OWN]
        replacing = await resolve_targets(session, Role.PRINCIPAL, all_schools=True, replace=True)
        assert len(replacing.schools) == 29
        deputies = await resolve_targets(session, Role.DEPUTY, district_name="西山乡")
        assert len(deputies.schools) == 7
        officers = await resolve_targets(session, Role.DISTRICT_OFFICER, all_schools=True)
        assert len(officers.districts) == 4
        assert (await resolve_targets(session, Role.STAFF)).schools == []
        for kwargs, message in [
            ({"school_code": "NOPE"}, "no school with code"),
            ({"district_name": "火星乡"}, "no district named"),
            ({}, "say which schools"),
            ({"school_code": OWN, "all_schools": True}, "only one of"),
        ]:
            with pytest.raises(InviteError, match=message):
                await resolve_targets(session, Role.PRINCIPAL, **kwargs)  # type: ignore[arg-type]


def test_cli_prints_links_and_writes_a_printable_workbook(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    monkeypatch.setenv("HUIBAO_BUREAU__NAME", "示范县教育局")
    assert main(["invites", "create", "--all"]) == 2
    assert "telegram.bot_username" in capsys.readouterr().err

    monkeypatch.setenv("HUIBAO_TELEGRAM__BOT_USERNAME", "shifan_edu_bot")

    async def seed(session: AsyncSession) -> None:
        from bot.demo import demo_rows
        from models.roster.roster_file import import_roster

        await import_roster(session, demo_rows())

    look(db_url, seed)
    sheet_path = tmp_path / "邀请.xlsx"
    assert main(["invites", "create", "--district", "西山乡", "--expires", "7d",
                 "--xlsx", str(sheet_path)]) == 0
    out = capsys.readouterr().out
    links = re.findall(r"https://t\.me/shifan_edu_bot\?start=([0-9A-Z]{16})", out)
    assert len(links) == 7 and "7 invitation(s)" in out and "西山九年一贯制学校" in out
    printed = read_invitation_sheet(sheet_path)
    assert printed.heading[:2] == ["示范县教育局", "校长邀请码"]
    assert re.fullmatch(r"制表日期：\d{4}-\d{2}-\d{2}", printed.heading[2])
    blocks = printed.blocks
    assert len(blocks) == 7
    assert {b.fields["学区"] for b in blocks} == {"西山乡"}
    assert {b.fields["加入身份"] for b in blocks} == {"校长"}
    assert {b.fields["链接"].rsplit("=", 1)[1] for b in blocks} == set(links)
    assert "西山九年一贯制学校" in {b.name for b in blocks}
    assert [b.images for b in blocks] == [1] * 7  # one QR code per block

    assert main(["invites", "create", "--district", "西山乡", "--role", "district_officer"]) == 0
    assert "西山乡\tdistrict_officer\t" in capsys.readouterr().out
    assert main(["invites", "create", "--school", "NOPE"]) == 2
    assert main(["invites", "create", "--all", "--expires", "soon"]) == 2
    assert "cannot read 'soon'" in capsys.readouterr().err
    assert main(["invites", "status"]) == 0
    assert "8 invitation(s) waiting to be used, 0 used" in capsys.readouterr().out
