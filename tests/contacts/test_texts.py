"""The builders that put numbers in a list: nothing shown when nothing is known, the
principal's own number before the roster's, Chinese words in Chinese."""

from __future__ import annotations

from models.roster.phones import Callee, Phones, phones_for
from models.roster.tables import Person, Role, School
from texts.contacts import callee_line, phones_text
from texts.i18n import gettext_for
from texts.rounds import unconnected_text


def test_the_round_screens_unconnected_schools_show_the_rosters_numbers() -> None:
    _ = gettext_for("zh_CN")
    schools = [
        School(code="W01", name="光明小学", phone="0797-8000003", principal_phone="13700000003"),
        School(code="W02", name="教学点", phone=None, principal_phone=None),
    ]
    lines = unconnected_text(schools, _).splitlines()
    assert lines[1] == "• W01 光明小学 ☎ 学校 0797-8000003 · ☎ 校长 13700000003"
    assert lines[2] == "• W02 教学点"


def test_phones_of_a_school_and_its_people() -> None:
    school = School(code="E01", name="实验小学", phone=None, principal_phone="13700000001")
    deputy = Person(role=Role.DEPUTY.value, phone="13600000000")
    principal = Person(role=Role.PRINCIPAL.value, phone=None)
    assert phones_for(school, [deputy, principal]) == Phones(None, "13700000001")
    principal.phone = "13698765432"
    assert phones_for(school, [deputy, principal]) == Phones(None, "13698765432")
    en = gettext_for("en")
    assert phones_text(en, Phones(None, "13698765432")) == "☎ principal 13698765432"
    assert phones_text(en, Phones()) == ""
    assert callee_line(en, Callee("<b>", Phones("010-65123456"))) == (
        "• &lt;b&gt; ☎ school 010-65123456"
    )
    assert callee_line(en, "光明小学") == "• 光明小学"


def test_long_lists_with_numbers_still_fit_in_one_telegram_message() -> None:
    from datetime import UTC, datetime

    from models.followup.completeness import SchoolStatus, Status
    from texts.reminders import escalation_message
    from texts.status import missing_text

    phones = Phones("0797-81234567", "13812345678")
    callees = [Callee(f"示范县第{n}九年一贯制学校（东校区）", phones) for n in range(200)]
    text = escalation_message(
        language="zh_CN", district="城关学区", titles={"zh": "编制与师资配备"},
        period="2026", deadline=datetime(2026, 11, 20, 9, tzinfo=UTC),
        schools=callees[:100], unreached=callees[100:], tz=UTC,
    ).text
    assert len(text) < 4096
    shown = text.count("☎ 学校")
    assert shown > 20 and text.count("另有") == 2
    statuses = [
        SchoolStatus(n, f"S{n}", c.name, 1, "城关学区", "nine_year", Status.NOT_STARTED, [],
                     phones.school, phones.principal)
        for n, c in enumerate(callees)
    ]
    listed = missing_text(gettext_for("zh_CN"), "zh_CN", statuses)
    assert len(listed) < 3600 and listed.count("☎ 学校") > 20
