"""What /export tells people: the round to choose, the workbook's caption with its
"📊 Charts" button, and the charts' captions. The catalogue is export.po (the older
messages of /export stay in status.po)."""

from __future__ import annotations

from texts.callbacks import ExportCharts
from texts.i18n import Gettext, ngettext_for

Rows = list[list[tuple[str, str]]]


def choose_round(_: Gettext) -> str:
    return _("Choose the round to export:")


def no_rounds(_: Gettext) -> str:
    return _("There are no rounds yet.")


def preparing_workbook(_: Gettext) -> str:
    return _("Preparing the workbook…")


def preparing_charts(_: Gettext) -> str:
    return _("Drawing the charts…")


def unreadable_form(_: Gettext) -> str:
    return _(
        "This round's form cannot be read, so it cannot be exported. "
        "Please tell the bureau's administrator."
    )


def workbook_caption(language: str, schools: int, submitted: int) -> str:
    ngettext = ngettext_for(language)
    return ngettext(
        "{schools} school, {submitted} reported.",
        "{schools} schools, {submitted} reported.",
        schools,
    ).format(schools=schools, submitted=submitted)


def workbook_buttons(_: Gettext, round_id: int) -> Rows:
    """Under the workbook: the same round's charts, drawn on demand."""
    return [[(_("📊 Charts"), ExportCharts(round_id).pack())]]


def chart_caption(_: Gettext, title: str, index: int, count: int) -> str:
    """The first chart is the reporting rate by district; a second is the form's own."""
    what = _("Reporting rate by district") if index == 0 else _("The form's key figure")
    return _("{title}: {what} ({index}/{count})").format(
        title=title, what=what, index=index + 1, count=count
    )
