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
