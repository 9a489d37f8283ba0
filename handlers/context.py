"""The person behind an update and their language, re-read in the update's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from models.roster.people import touch_person
from models.roster.tables import Person, Role
from texts.i18n import Gettext, gettext_for, language_of
from transport.context import HuibaoContext


@dataclass
class Who:
    """The person behind an update, re-read from the database (principle 6)."""

    person: Person
    language: str
    _: Gettext

    @property
    def role(self) -> Role:
        return Role(self.person.role)


async def identify(session: AsyncSession, update: Update, context: HuibaoContext) -> Who:
    user = update.effective_user
    if user is None:
        raise ValueError("update without a user")
    person = await touch_person(
        session,
        user.id,
        name=user.full_name,
        username=user.username,
        telegram_language=user.language_code,
    )
    language = language_of(
        person, context.services.settings.bureau.default_language, user.language_code
    )
    return Who(person=person, language=language, _=gettext_for(language))


@asynccontextmanager
async def unit(update: Update, context: HuibaoContext) -> AsyncIterator[tuple[AsyncSession, Who]]:
    """One transaction for one update, with the person already identified."""
    async with context.services.transaction() as session:
        yield session, await identify(session, update, context)
