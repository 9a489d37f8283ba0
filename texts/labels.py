"""Names of stages and roles as people read them (translate with the person's gettext)."""

from __future__ import annotations

from models.people import Role, Stage
from texts.i18n import N_, Gettext

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


def stage_label(stage: str, _: Gettext) -> str:
    label = STAGE_LABELS.get(stage)
    return _(label) if label else stage


def role_label(role: str, _: Gettext) -> str:
    label = ROLE_LABELS.get(role)
    return _(label) if label else role
