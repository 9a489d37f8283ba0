"""What every handler gets: the services, the person behind the update, their language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import Application, CallbackContext, ExtBot

from config.settings import Settings
from models.db import transaction
from models.people import Person, Role
from models.persons import touch_person
from texts.i18n import Gettext, choose_language, gettext_for


@dataclass
class Services:
    """Resources built in post_init and shared by handlers and jobs."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # Capabilities keep their own long-lived objects here (form registry, outbox, ...).
    extra: dict[str, Any] = field(default_factory=dict)

    def transaction(self) -> Any:
        return transaction(self.sessionmaker)


class HuibaoContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    @property
    def services(self) -> Services:
        services: Services = self.application.bot_data["services"]
        return services


HuibaoApp = Application[
    ExtBot[None], HuibaoContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any
]


@dataclass
class Who:
    """The person behind an update, re-read from the database (principle 6)."""

    person: Person
    language: str
    _: Gettext

    @property
    def role(self) -> Role:
        return Role(self.person.role)


def language_of(person: Person | None, telegram_code: str | None, settings: Settings) -> str:
    return choose_language(
        person.language if person else None, telegram_code, settings.bureau.default_language
    )


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
    language = language_of(person, user.language_code, context.services.settings)
    return Who(person=person, language=language, _=gettext_for(language))


@asynccontextmanager
async def unit(update: Update, context: HuibaoContext) -> AsyncIterator[tuple[AsyncSession, Who]]:
    """One transaction for one update, with the person already identified."""
    async with context.services.transaction() as session:
        yield session, await identify(session, update, context)
