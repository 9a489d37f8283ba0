"""The figures of one round that the deadline summary and the workbook both show:
completeness, key totals, flagged values, and the title they go under.

Built once by whoever needs them first; the summary passes its figures on to the
workbook so that the two never disagree (nor read the database twice)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from models.followup.completeness import Completeness, get_round, round_completeness
from models.followup.flags import Flag, flagged_values
from models.followup.keytotals import KeyTotals, key_totals, round_form
from models.forms import FormDef, FormError, computed
from models.roster.tables import District
from models.rounds import Round
from models.rounds.periods import period_label
from texts.i18n import short


@dataclass(frozen=True)
class RoundFigures:
    rnd: Round
    form: FormDef
    completeness: Completeness
    totals: KeyTotals
    flags: list[Flag]
    district_name: str | None
    """The district the figures are limited to (None: the whole bureau)."""


async def round_figures(
    session: AsyncSession,
    round_id: int,
    district_id: int | None,
    now: datetime,
    settings: Settings,
    *,
    completeness: Completeness | None = None,
    totals: KeyTotals | None = None,
    flags: list[Flag] | None = None,
) -> RoundFigures:
    """The round's figures as at `now`, limited to one district when district_id is
    given; those the caller already has are taken as they are."""
    rnd = await get_round(session, round_id)
    form = await round_form(session, rnd)
    if completeness is None:
        completeness = await round_completeness(session, round_id, district_id, now)
    if totals is None:
        totals = await key_totals(session, form, round_id, district_id)
    if flags is None:
        summary = settings.summary
        flags = await flagged_values(
            session, rnd, form, district_id=district_id,
            change_percent=summary.flag_change_percent,
            unchanged_periods=summary.flag_unchanged_periods,
        )
    name = await _district_name(session, completeness, district_id)
    return RoundFigures(rnd, form, completeness, totals, flags, name)


async def _district_name(
    session: AsyncSession, c: Completeness, district_id: int | None
) -> str | None:
    if district_id is None:
        return None
    known = next((d.name for d in c.districts if d.district_id == district_id), None)
    return known or await session.scalar(select(District.name).where(District.id == district_id))


def round_title(form: FormDef, rnd: Round, language: str, district: str | None) -> str:
    """ "<form> · <period>", then " · <district>" when limited to one."""
    title = f"{form.title.get(short(language))} · {period_label(rnd.period, language)}"
    return f"{title} · {district}" if district else title


def stage_target(form: FormDef, code: str, stage: str) -> int | Decimal | None:
    """The target the form sets for a key total at a stage: a computed field named
    `<code>_target` (or `<x>_target` for a key total `<x>_rate`) that depends on the
    stage alone, e.g. staffing's qualification_target: primary 95 %, junior 90 %,
    senior 98 %. None when there is none."""
    names = {c.code for c in form.computed}
    candidates = [f"{code}_target"]
    if code.endswith("_rate"):
        candidates.append(code.removesuffix("_rate") + "_target")
    target = next((c for c in candidates if c in names), None)
    if target is None:
        return None
    try:
        value = computed(form, {}, {"stage": stage}).get(target)
    except FormError:
        return None
    return value if isinstance(value, int | Decimal) and not isinstance(value, bool) else None
