"""The roster's tables: districts and schools, the people who use the bot, the audit log."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, BigId, UTCDateTime, utcnow


class Stage(enum.StrEnum):
    """School stage (学段); values are stable codes used in forms and imports."""

    KINDERGARTEN = "kindergarten"
    PRIMARY = "primary"
    JUNIOR = "junior"
    SENIOR = "senior"
    NINE_YEAR = "nine_year"
    COMPLETE_SECONDARY = "complete_secondary"
    VOCATIONAL = "vocational"
    TEACHING_POINT = "teaching_point"


class Role(enum.StrEnum):
    """What a person may do; admin includes everything staff may do."""

    NONE = "none"
    PRINCIPAL = "principal"
    DEPUTY = "deputy"
    DISTRICT_OFFICER = "district_officer"
    STAFF = "staff"
    ADMIN = "admin"

    @property
    def is_staff(self) -> bool:
        return self in (Role.STAFF, Role.ADMIN)

    @property
    def is_school_contact(self) -> bool:
        return self in (Role.PRINCIPAL, Role.DEPUTY)


class District(Base):
    """学区 / 乡镇中心校: a group of schools supervised by a district officer."""

    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    schools: Mapped[list[School]] = relationship(back_populates="district")


class School(Base):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    stage: Mapped[str] = mapped_column(String(30))
    # Closing a school keeps its submissions; it just stops being expected in new rounds.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # From the roster (学校电话, 校长电话), normalised by models/roster/phones.py; shown
    # to staff and the district's officers only. The principal's own /phone wins.
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    principal_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    district: Mapped[District] = relationship(back_populates="schools")


class Person(Base):
    """Anyone who has talked to the bot, with their role and binding."""

    __tablename__ = "people"
    __table_args__ = (
        # At most one principal per school, enforced by the database so that two invites
        # redeemed at the same moment cannot both win (deputies may be several).
        Index(
            "uq_people_school_principal",
            "school_id",
            unique=True,
            sqlite_where=text("role = 'principal'"),
            postgresql_where=text("role = 'principal'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The person's explicit choice; None means "follow Telegram, then the bureau".
    language: Mapped[str | None] = mapped_column(String(10), nullable=True)
    telegram_language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    role: Mapped[str] = mapped_column(String(20), default=Role.NONE.value)
    school_id: Mapped[int | None] = mapped_column(
        ForeignKey("schools.id"), nullable=True, index=True
    )
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("districts.id"), nullable=True, index=True
    )
    # False once Telegram says the person blocked the bot; shown to staff as unreachable.
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    # The number the person gave (/phone or a shared contact), normalised; optional.
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    school: Mapped[School | None] = relationship()
    district: Mapped[District | None] = relationship()


class AuditLog(Base):
    """Who did what to whom, when: every change of role, binding, lock or unlock."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # None when the change came from the command line or the system itself.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    details: Mapped[str] = mapped_column(String, default="")
