"""The typed states of conversations and drafts read the rows already stored (a deploy
ends no conversation in progress) and write them back in the same keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from models.conversations import Kind, ReportTalk, RoundSetup, SetupStep, Ticked
from models.forms import Walk
from models.rounds.draft_state import DraftState


def test_a_report_conversation_as_stored_before() -> None:
    stored = '{"await": "reason", "then": "submit", "at": "on_payroll:0", "x": 1}'
    talk = ReportTalk.from_json(stored)
    assert talk == ReportTalk(awaiting="reason", then="submit", at="on_payroll:0")
    ticked = ReportTalk.from_json('{"ticked": {"key": "shortage_subjects:0", "codes": ["pe"]}}')
    assert ticked.ticked == Ticked("shortage_subjects:0", ("pe",))
    assert ReportTalk.from_json(ticked.to_json()) == ticked
    assert ReportTalk.from_json("{}") == ReportTalk() == ReportTalk.from_json("not json")
    assert ReportTalk().to_json() == "{}"


def test_a_round_set_up_as_stored_before() -> None:
    deadline = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    stored = json.dumps({
        "step": "audience", "form": "staffing", "suggestions": ["2026", "2027"],
        "period": "2026", "deadline": deadline.isoformat(), "districts": [2, 1],
        "stages": ["primary"],
    })
    setup = RoundSetup.from_json(stored)
    assert setup == RoundSetup(
        SetupStep.AUDIENCE, form="staffing", suggestions=["2026", "2027"], period="2026",
        deadline=deadline, districts=[2, 1], stages=["primary"],
    )
    assert json.loads(setup.to_json()) == json.loads(stored)
    extend = RoundSetup.from_json('{"step": "extend", "round": 7}')
    assert (extend.step, extend.round_id) == (SetupStep.EXTEND, 7)
    assert json.loads(extend.to_json()) == {"step": "extend", "round": 7}
    # A step this version does not know asks for the buttons, as before.
    assert RoundSetup.from_json('{"step": "later"}').step is SetupStep.FORM
    assert Kind.of("round") is Kind.ROUND and Kind.of("other") is None and Kind.of(None) is None


def test_a_draft_state_as_stored_before() -> None:
    stored = {
        "walk": True, "return": "review", "seen": {"12": 345}, "prev": {},
        "failing": ["sum_rule"], "reason": "typo", "later": [1],
    }
    state = DraftState.from_json(json.dumps(stored))
    assert state.walk == Walk(back=True, review=True)
    assert state.seen == {12: 345} and state.previous == {} and state.failing == ["sum_rule"]
    assert state.reason == "typo"
    # Last period's values looked up and found empty stay "looked up"; unknown keys stay.
    assert json.loads(state.to_json()) == stored
    assert DraftState.from_json(None).previous is None
    assert DraftState.from_json("{}").to_json() == "{}"
