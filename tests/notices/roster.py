"""A roster made directly in the database: districts, schools, principals (and deputies).

Onboarding (invitations, binding) is another capability; notices only need the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.notices import Audience, AudienceKind, Created, NewNotice, create_notice
from models.notices.sending import Attachment
from models.roster.tables import District, Person, Role, School, Stage
from texts.notices.messages import renderer

DISTRICT_NAMES = ["城关学区", "东关学区", "西湖学区", "南山学区", "北塘学区", "新区学区",
                  "河口镇中心校", "石桥镇中心校", "柳林乡中心校", "白水乡中心校",
                  "青山镇中心校", "大坪乡中心校"]
STAGES = [Stage.PRIMARY, Stage.JUNIOR, Stage.NINE_YEAR, Stage.KINDERGARTEN, Stage.SENIOR]
FIRST_TELEGRAM_ID = 5_000_000


@dataclass
class Roster:
    district_ids: list[int] = field(default_factory=list)
    school_ids: list[int] = field(default_factory=list)
    # Telegram ids of the connected principals (and deputies), in school order.
    telegram_ids: list[int] = field(default_factory=list)


async def make_roster(
    session: AsyncSession,
    schools: int,
    *,
    districts: int = 12,
    deputies_every: int = 0,
    unconnected_every: int = 0,
    first_telegram_id: int = FIRST_TELEGRAM_ID,
    language: str | None = None,
) -> Roster:
    """`schools` active schools over `districts` districts, one principal each; every
    `deputies_every`-th school also has a deputy, every `unconnected_every`-th has nobody."""
    roster = Roster()
    names = [DISTRICT_NAMES[i % len(DISTRICT_NAMES)] + ("" if i < len(DISTRICT_NAMES) else
             str(i)) for i in range(districts)]
    await session.execute(insert(District), [{"name": n} for n in names])
    roster.district_ids = list(
        (await session.execute(select(District.id).order_by(District.id))).scalars()
    )
    await session.execute(
        insert(School),
        [
            {
                "code": f"S{i + 1:05d}",
                "name": f"第{i + 1}小学" if i % 2 == 0 else f"第{i + 1}中学",
                "district_id": roster.district_ids[i % districts],
                "stage": STAGES[i % len(STAGES)].value,
                "active": True,
            }
            for i in range(schools)
        ],
    )
    roster.school_ids = list(
        (await session.execute(select(School.id).order_by(School.id))).scalars()
    )
    people = []
    telegram_id = first_telegram_id
    for index, school_id in enumerate(roster.school_ids, start=1):
        if unconnected_every and index % unconnected_every == 0:
            continue
        roles = [Role.PRINCIPAL]
        if deputies_every and index % deputies_every == 0:
            roles.append(Role.DEPUTY)
        for role in roles:
            people.append(
                {
                    "telegram_id": telegram_id,
                    "name": f"校长{index}" if role is Role.PRINCIPAL else f"副校长{index}",
                    "role": role.value,
                    "school_id": school_id,
                    "language": language,
                    "reachable": True,
                }
            )
            roster.telegram_ids.append(telegram_id)
            telegram_id += 1
    for start in range(0, len(people), 1000):
        await session.execute(insert(Person), people[start : start + 1000])
    return roster


async def make_staff(session: AsyncSession, telegram_id: int, name: str = "王科长") -> Person:
    person = Person(telegram_id=telegram_id, name=name, role=Role.STAFF.value)
    session.add(person)
    await session.flush()
    return person


async def post_notice(
    session: AsyncSession,
    text: str = "关于做好冬季校园安全工作的通知",
    *,
    author: Person | None = None,
    requires_ack: bool = True,
    audience: Audience | None = None,
    language: str = "zh_CN",
    reminder_due: datetime | None = None,
    scheduled_at: datetime | None = None,
    blob_id: int | None = None,
    attachment_name: str | None = None,
    title: str = "",
) -> Created:
    """A notice as the composer or the CLI makes it: notice, recipients, deliveries."""
    created = await create_notice(
        session,
        NewNotice(
            title=title,
            text=text,
            audience=audience or Audience(AudienceKind.ALL),
            requires_ack=requires_ack,
            author_id=author.id if author else None,
            scheduled_at=scheduled_at,
            attachment=(
                Attachment("document", attachment_name, blob_id=blob_id) if blob_id else None
            ),
        ),
        renderer("青山县教育局", "zh_CN"),
        title=lambda notice: f"Notice #{notice.id}: {notice.title}",
        owner_language=language,
        reminder_due=lambda _sent: reminder_due,
    )
    return created
