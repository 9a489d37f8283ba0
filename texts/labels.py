"""Names people read: stages, roles, where a school stands in a round, why a figure is
flagged (translate with the person's gettext, or give their language)."""

from __future__ import annotations

from models.followup.completeness import Status
from models.followup.flags import Flag, FlagKind
from models.forms import STAGES
from models.roster.tables import Role, Stage
from texts.i18n import N_, Gettext, gettext_for, short

STAGE_LABELS: dict[str, str] = {
    Stage.KINDERGARTEN.value: N_("kindergarten"),
    Stage.PRIMARY.value: N_("primary school"),
    Stage.JUNIOR.value: N_("junior secondary school"),
    Stage.SENIOR.value: N_("senior secondary school"),
    Stage.NINE_YEAR.value: N_("nine-year school"),
    Stage.COMPLETE_SECONDARY.value: N_("complete secondary school"),
    Stage.VOCATIONAL.value: N_("vocational school"),
    Stage.TEACHING_POINT.value: N_("teaching point"),
}

ROLE_LABELS: dict[str, str] = {
    Role.NONE.value: N_("not connected"),
    Role.PRINCIPAL.value: N_("principal"),
    Role.DEPUTY.value: N_("deputy / data clerk"),
    Role.DISTRICT_OFFICER.value: N_("district officer"),
    Role.STAFF.value: N_("bureau staff"),
    Role.ADMIN.value: N_("administrator"),
}

STATUS_LABELS: dict[Status, str] = {
    Status.ON_TIME: N_("On time"),
    Status.LATE: N_("Late"),
    Status.IN_PROGRESS: N_("In progress"),
    Status.NOT_STARTED: N_("Not started"),
}

FLAG_REASONS: dict[FlagKind, str] = {
    FlagKind.CHANGED: N_("changed by more than {percent}% from the last period"),
    FlagKind.UNCHANGED: N_("unchanged for {periods} periods"),
}


def stage_label(stage: str, _: Gettext) -> str:
    label = STAGE_LABELS.get(stage)
    return _(label) if label else stage


def role_label(role: str, _: Gettext) -> str:
    label = ROLE_LABELS.get(role)
    return _(label) if label else role


def status_label(status: Status, language: str) -> str:
    return gettext_for(language)(STATUS_LABELS[status])


def form_stage_label(stage: str, language: str) -> str:
    """A stage as the forms name it (models.forms.STAGES), for figures broken down by
    stage; the code itself for a stage the forms do not name."""
    text = STAGES.get(stage)
    return text.get(short(language)) if text else stage


def flag_reason(flag: Flag, language: str, change_percent: int = 50) -> str:
    _ = gettext_for(language)
    return _(FLAG_REASONS[flag.kind]).format(percent=change_percent, periods=flag.periods)
