"""The forms of rounds: the exact text of every form version a round asks.

A round keeps the form version it was opened with, even after the form's file changes:
the TOML is stored once per (code, version) and a changed text under the same version is
refused. A stored version never changes, so the parsed form is cached per database.

    store_form_version(session, form, source=None) -> FormVersion
        Keep the exact TOML of a form version. The same code and version with a
        different text is refused (RoundError): a changed form needs a new version.
    round_form(session, round) -> FormDef
        The form a round asks, parsed from its stored source (cached per database by
        code and version, since a stored version never changes).
"""

from __future__ import annotations

import tomllib
import weakref
from pathlib import Path
from typing import cast

from sqlalchemy import Select, Table, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.forms import FormDef, FormError
from models.forms.loader import _build
from models.rounds.errors import RoundError
from models.rounds.inserts import insert_for
from models.rounds.tables import FormVersion, Round


def parse_form_source(source: str, name: str) -> FormDef:
    """A form from its TOML text; FormError listing the problems if it is not valid."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as err:
        raise FormError(f"{name}: not valid TOML: {err}") from None
    form, problems = _build(data, name)
    if form is None:
        raise FormError(f"{name}: " + "; ".join(str(p) for p in problems), problems)
    return form


_round_forms: weakref.WeakKeyDictionary[Engine, dict[tuple[str, int], FormDef]] = (
    weakref.WeakKeyDictionary()
)


def _cache(session: AsyncSession) -> dict[tuple[str, int], FormDef]:
    bind = session.get_bind()
    assert isinstance(bind, Engine)
    found = _round_forms.get(bind)
    if found is None:
        found = _round_forms[bind] = {}
    return found


def _read_source(form: FormDef) -> str:
    try:
        # A small local file, read once when a round opens.
        return Path(form.source).read_text(encoding="utf-8")
    except OSError as err:
        raise RoundError(f"cannot read the form file {form.source}: {err}") from None


def _stored(form: FormDef) -> Select[FormVersion]:
    return select(FormVersion).where(
        FormVersion.code == form.code, FormVersion.version == form.version
    )


async def store_form_version(
    session: AsyncSession, form: FormDef, source: str | None = None
) -> FormVersion:
    if source is None:
        source = _read_source(form)
    parsed = parse_form_source(source, form.source or f"{form.code} v{form.version}")
    if (parsed.code, parsed.version) != (form.code, form.version):
        raise RoundError(
            f"{form.source} now holds {parsed.code} version {parsed.version}, "
            f"not {form.code} version {form.version}; reload the forms"
        )
    existing = (await session.execute(_stored(form))).scalar_one_or_none()
    if existing is not None:
        if existing.source != source:
            raise RoundError(
                f"form {form.code} version {form.version} was changed after it was first "
                f"used; give the changed form a new version number"
            )
        return existing
    stored = await _insert_version(session, form, source)
    _cache(session)[(form.code, form.version)] = parsed
    return stored


async def _insert_version(session: AsyncSession, form: FormDef, source: str) -> FormVersion:
    # Insert-or-ignore, then read back: two rounds opened at once with a form version
    # never used before both get here, and the second must not fail on the first's row.
    connection = await session.connection()
    await connection.execute(
        insert_for(connection.dialect.name)(cast(Table, FormVersion.__table__))
        .values(code=form.code, version=form.version, source=source, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["code", "version"])
    )
    stored = (await session.execute(_stored(form))).scalar_one()
    if stored.source != source:
        raise RoundError(
            f"form {form.code} version {form.version} was just stored with another text; "
            f"give the changed form a new version number"
        )
    return stored


async def form_version(session: AsyncSession, code: str, version: int) -> FormDef:
    """The stored form version (cached); KeyError if it was never stored."""
    cache = _cache(session)
    found = cache.get((code, version))
    if found is not None:
        return found
    source = (
        await session.execute(
            select(FormVersion.source).where(
                FormVersion.code == code, FormVersion.version == version
            )
        )
    ).scalar_one_or_none()
    if source is None:
        raise KeyError((code, version))
    form = parse_form_source(source, f"{code} v{version}")
    cache[(code, version)] = form
    return form


async def round_form(session: AsyncSession, round_: Round) -> FormDef:
    return await form_version(session, round_.form_code, round_.form_version)
