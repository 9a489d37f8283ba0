"""The callback codec (texts/callbacks.py): every button's data packs and unpacks to
itself, and data of any other shape is refused as stale, never half-read. The report's
kinds keep the exact data the bot has always sent, so buttons already in chats work."""

from __future__ import annotations

import pytest

from texts import callback_codec
from texts import callbacks as cb
from texts.callbacks import (
    KINDS,
    AddItem,
    AskDiscard,
    ChooseForm,
    DiscardRevision,
    DistrictsPage,
    DoneTicking,
    EditAnswer,
    GoBack,
    KeepAnswer,
    NoMoreItems,
    OpenReport,
    PauseReport,
    PickChoice,
    RemoveItem,
    ReportList,
    ReviewReport,
    ReviseReport,
    SkipQuestion,
    Stale,
    SubmitReport,
    TickChoice,
    ViewSubmitted,
    kind_of,
)

# The data the report's buttons have always carried, as a user's chat may still hold them.
REPORT_DATA = {
    "rp:o:7": OpenReport(7),
    "rp:x:12": PauseReport(12),
    "rp:r:12": ReviewReport(12),
    "rp:S:12": SubmitReport(12),
    "rp:v:12": ReviseReport(12),
    "rp:e:12:9f3a0c1d": EditAnswer(12, "9f3a0c1d"),
    "rp:D:12:ab:1": RemoveItem(12, "ab", 1),
    "rp:k:12:ab": KeepAnswer(12, "ab"),
    "rp:c:12:ab:0": PickChoice(12, "ab", 0),
    "rp:t:12:ab:999": TickChoice(12, "ab", 999),
    "rp:d:12:ab": DoneTicking(12, "ab"),
    "rp:s:12:ab": SkipQuestion(12, "ab"),
    "rp:y:12:ab": AddItem(12, "ab"),
    "rp:n:12:ab": NoMoreItems(12, "ab"),
    "rp:b:999999999:0": GoBack(999999999, "0"),
    # Issue 11: the list, the submitted report read-only, discarding a revision.
    "rp:l": ReportList(),
    "rp:w:12": ViewSubmitted(12),
    "rp:q:12": AskDiscard(12),
    "rp:Q:12:3": DiscardRevision(12, 3),
}


@pytest.mark.parametrize("data", list(REPORT_DATA))
def test_report_buttons_keep_their_data(data: str) -> None:
    button = REPORT_DATA[data]
    assert button.pack() == data
    assert kind_of(data) is type(button)
    assert type(button).unpack(data) == button


def test_every_report_action_has_one_kind() -> None:
    actions = {p.split(":")[1] for p in KINDS if p.startswith("rp:")}
    assert actions == set("oxreDSvkctdsynblwqQ")
    assert {type(b).PREFIX.split(":")[1] for b in REPORT_DATA.values()} == actions


def test_an_index_may_have_leading_zeros_as_before() -> None:
    assert PickChoice.unpack("rp:c:12:ab:007") == PickChoice(12, "ab", 7)


# Every shape the report's old regular expressions refused.
MALFORMED = [
    "rp:zz",  # no such action
    "rp:o",  # no round
    "rp:o:",  # an empty id
    "rp:o:0",  # no row has id 0
    "rp:o:07",  # a leading zero
    "rp:o:1234567890",  # ten digits: beyond a row id
    "rp:S:99999999999",
    "rp:x:-12",  # a sign
    "rp:x:+12",
    "rp:x:1.5",
    "rp:x:12a",  # a letter in an id
    "rp:x:١٢",  # digits, but not ASCII ones
    "rp:x:²",
    "rp:S:12:2",  # a part too many
    "rp:r:12:",
    "rp:k:12",  # a question's button without its question
    "rp:k:12:",
    "rp:k:12:zz",  # not a hex token
    "rp:k:12:AB",  # upper case is not a token
    "rp:k:12:123456789",  # nine hex digits: longer than a CRC-32
    "rp:k:12:ab:1",  # keep has no index
    "rp:e:12",
    "rp:c:12:ab",  # a choice without its index
    "rp:c:12:ab:",
    "rp:c:12:ab:1000",  # four digits
    "rp:c:12:ab:-1",
    "rp:t:12:ab:x",
    "rp:D:12:ab",
    "rp:D:12:ab:1:1",
    "rp:c:12:ab:1:1",
]


@pytest.mark.parametrize("data", MALFORMED)
def test_malformed_report_data_is_stale(data: str) -> None:
    kind = kind_of(data)
    if kind is None:
        # No kind takes it: the report's stale family answers it (handlers/menu.py).
        assert data == "rp:zz"
        return
    with pytest.raises(Stale):
        kind.unpack(data)


def test_a_kind_refuses_another_kinds_data() -> None:
    with pytest.raises(Stale):
        SubmitReport.unpack("rp:s:12:ab")  # the case of the action letter matters
    with pytest.raises(Stale):
        OpenReport.unpack("rp:x:12")
    assert kind_of("rp:s:12:ab") is SkipQuestion and kind_of("rp:S:12") is SubmitReport


@pytest.mark.parametrize(
    "button",
    [OpenReport(0), PauseReport(-1), PauseReport(1_000_000_000), KeepAnswer(1, "XY"),
     KeepAnswer(1, ""), PickChoice(1, "ab", 1000), RemoveItem(1, "ab:c", 1)],
)
def test_a_button_its_own_decoder_would_refuse_is_not_built(button: cb.Callback) -> None:
    with pytest.raises(ValueError):
        button.pack()


def test_plain_numbers_refuse_digits_int_cannot_read() -> None:
    """str.isdigit() accepts "²"; int() does not: such data is stale, not a crash."""
    for data in ("adm:sd:²", "adm:sd:١", "adm:sd:-1", "adm:sd:2147483648"):
        with pytest.raises(Stale):
            DistrictsPage.unpack(data)
    assert DistrictsPage.unpack("adm:sd:0") == DistrictsPage(0)
    assert ChooseForm.unpack("rd:f:staffing") == ChooseForm("staffing")


def test_every_kind_packs_within_telegram_s_limit() -> None:
    longest = PickChoice(999_999_999, "ffffffff", 999).pack()
    assert len(longest.encode()) <= callback_codec.MAX_BYTES
    assert all(prefix == kind.PREFIX for prefix, kind in KINDS.items())
