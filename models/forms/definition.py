"""The in-memory shape of a form, built from its TOML file by the loader.

Everything here is immutable: a loaded form is shared by every conversation and
summary in the process, so nothing may change it after loading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

if TYPE_CHECKING:
    from models.forms.expr_values import Expr

#: A typed answer: int (integer), Decimal (decimal), str (choice code or text),
#: list[str] (multi_choice codes, in the form's choice order), date (date).
#: bool appears only in computed results and the reserved "group finished" key.
Value: TypeAlias = int | Decimal | str | list[str] | date | bool

#: (field code, item index). Item is 0 for fields outside groups, 0..n-1 inside a
#: group; the reserved items ITEM_COUNT and ITEM_DONE hold a group's bookkeeping.
AnswerKey: TypeAlias = tuple[str, int]
Answers: TypeAlias = dict[AnswerKey, Value]

#: Values the caller knows about the school and does not ask, e.g. {"stage": "junior"}.
Context: TypeAlias = dict[str, Value | None]

ITEM_COUNT = -1
"""(group_code, ITEM_COUNT) -> int: how many items the principal has added."""
ITEM_DONE = -2
"""(group_code, ITEM_DONE) -> bool: True once the principal said "no more items"."""

FieldType = Literal["integer", "decimal", "choice", "multi_choice", "date", "text", "file"]
FIELD_TYPES: tuple[FieldType, ...] = (
    "integer",
    "decimal",
    "choice",
    "multi_choice",
    "date",
    "text",
    "file",
)
FileKind = Literal["pdf", "image", "xlsx"]
FILE_KINDS: tuple[FileKind, ...] = ("pdf", "image", "xlsx")
"""What a `file` field may accept: a PDF, a photo or picture, an Excel workbook."""
PeriodType = Literal["week", "month", "term", "year"]
PERIOD_TYPES: tuple[PeriodType, ...] = ("week", "month", "term", "year")
Severity = Literal["error", "warning"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning")
Aggregate = Literal["sum", "ratio"]

Number: TypeAlias = int | Decimal
Bound: TypeAlias = int | Decimal | date

DEFAULT_DECIMALS = 2
"""Decimal places a decimal field accepts when its TOML gives no `decimals`."""
DEFAULT_MAX_LENGTH = 500
"""Characters a text field accepts when its TOML gives no `max_length`."""
DEFAULT_MAX_ITEMS = 50
"""Items a group accepts when its TOML gives no `max_items`."""


@dataclass(frozen=True, slots=True)
class Text:
    """A text shown to people, in both languages the bot speaks."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        # Anything that is not English falls back to Chinese: the users are Chinese
        # schools and a missing translation must never leave a blank.
        return self.en if lang.lower().startswith("en") else self.zh


#: The stages a school may have; the caller passes one as context["stage"].
STAGES: dict[str, Text] = {
    "kindergarten": Text("幼儿园", "Kindergarten"),
    "primary": Text("小学", "Primary school"),
    "junior": Text("初中", "Junior secondary school"),
    "senior": Text("高中", "Senior secondary school"),
    "nine_year": Text("九年一贯制学校", "Nine-year school"),
    "complete_secondary": Text("完全中学", "Complete secondary school"),
    "vocational": Text("职业学校", "Vocational school"),
    "teaching_point": Text("教学点", "Teaching point"),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a form file, as `huibao forms check` prints it."""

    file: str
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.reason}"


class FormError(Exception):
    """A form (or an expression in it) is unusable; `problems` says why."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems: list[Problem] = problems or []


@dataclass(frozen=True, slots=True)
class Choice:
    code: str
    label: Text
    aliases: tuple[str, ...] = ()
    """Other names a principal may type for it, e.g. a former name (国培 for 国家级):
    accepted as answers, never shown."""

    @property
    def answers(self) -> tuple[str, ...]:
        """Every word that picks this choice: its code, both labels and its aliases."""
        return (self.code, self.label.zh, self.label.en, *self.aliases)


@dataclass(frozen=True, slots=True)
class FieldDef:
    code: str
    type: FieldType
    label: Text
    unit: Text | None = None
    min: Bound | None = None
    max: Bound | None = None
    required: bool = True
    hint: Text | None = None
    choices: tuple[Choice, ...] = ()
    show_if: Expr | None = None
    max_length: int | None = None
    decimals: int | None = None
    group: str | None = None
    """The code of the group the field belongs to, None for top-level fields."""
    kinds: tuple[FileKind, ...] = ()
    """For `file` fields: the kinds of file accepted (every kind when the TOML names none)."""
    max_mb: int | None = None
    """For `file` fields: the largest file accepted, in MB (None: the `[files] max_mb` setting)."""

    def choice(self, code: str) -> Choice | None:
        for c in self.choices:
            if c.code == code:
                return c
        return None


@dataclass(frozen=True, slots=True)
class RuleDef:
    code: str
    expr: Expr
    severity: Severity
    message: Text
    fields: tuple[str, ...]
    """Input fields the rule concerns (given in the TOML or derived from expr)."""
    group: str | None = None
    """For per-item rules: the group whose every item is checked."""
    uses: tuple[str, ...] = ()
    """Input fields the expression reads (directly or through computed fields): the rule
    waits until the required ones among them that are asked have been answered."""


@dataclass(frozen=True, slots=True)
class GroupDef:
    code: str
    label: Text
    fields: tuple[FieldDef, ...]
    min_items: int = 0
    max_items: int = DEFAULT_MAX_ITEMS
    hint: Text | None = None
    show_if: Expr | None = None
    after: str | None = None
    add_prompt: Text | None = None
    rules: tuple[RuleDef, ...] = ()


@dataclass(frozen=True, slots=True)
class ComputedDef:
    # No defaults: the loader always gives both (None: no unit; rounded to 2 places to be read).
    code: str
    label: Text
    expr: Expr
    unit: Text | None
    decimals: int | None


@dataclass(frozen=True, slots=True)
class KeyTotalDef:
    """A figure a deadline summary adds up across schools.

    aggregate "sum": the sum of `of` (a field, group field or computed code).
    aggregate "ratio": sum(numerator) / sum(denominator) * scale, over the schools
    where both are present, so that large and small schools weigh by their size.
    """

    code: str
    label: Text
    aggregate: Aggregate
    decimals: int = 1
    by: str | None = None
    unit: Text | None = None
    # "sum":
    of: str | None = None
    # "ratio":
    numerator: str | None = None
    denominator: str | None = None
    scale: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class ChartHint:
    of: str
    kind: Literal["bar", "pie"] = "bar"


@dataclass(frozen=True, slots=True)
class FormDef:
    code: str
    version: int
    title: Text
    period_type: PeriodType
    items: tuple[FieldDef | GroupDef, ...]
    """Top-level fields and groups in the order they are asked."""
    description: Text | None = None
    rules: tuple[RuleDef, ...] = ()
    computed: tuple[ComputedDef, ...] = ()
    key_totals: tuple[KeyTotalDef, ...] = ()
    chart: ChartHint | None = None
    context: tuple[str, ...] = ("stage",)
    source: str = ""
    _fields: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)
    _groups: dict[str, GroupDef] = field(default_factory=dict, compare=False, repr=False)
    _shown_by: set[str] = field(default_factory=set, compare=False, repr=False)
    steps_cache: dict[object, list[Any]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    """The questions asked, by what decides them (models/forms/engine.py's steps())."""

    def __post_init__(self) -> None:
        for entry in self.items:
            if isinstance(entry, GroupDef):
                self._groups[entry.code] = entry
                self._read_by_show_if(entry.show_if)
                for f in entry.fields:
                    self._fields[f.code] = f
                    self._read_by_show_if(f.show_if)
            else:
                self._fields[entry.code] = entry
                self._read_by_show_if(entry.show_if)

    def _read_by_show_if(self, expr: Expr | None) -> None:
        if expr is not None:
            self._shown_by.update(expr.names, expr.groups, (f for _g, f in expr.group_fields))

    def decides_visibility(self, code: str) -> bool:
        """Can an answer under `code` (a field's, or a group's item count) change which
        questions are asked? Yes when a show_if reads it, and for every group."""
        return code in self._shown_by or code in self._groups

    @property
    def fields(self) -> tuple[FieldDef, ...]:
        """Every field, top-level and inside groups, in form order."""
        return tuple(self._fields.values())

    @property
    def groups(self) -> tuple[GroupDef, ...]:
        return tuple(self._groups.values())

    def field(self, code: str) -> FieldDef:
        """The field with this code (top-level or in a group); KeyError if none."""
        return self._fields[code]

    def group(self, code: str) -> GroupDef:
        return self._groups[code]

    def has_field(self, code: str) -> bool:
        return code in self._fields

    def has_group(self, code: str) -> bool:
        return code in self._groups

    def all_rules(self) -> tuple[RuleDef, ...]:
        """Form-level rules followed by every group's per-item rules."""
        out = list(self.rules)
        for g in self._groups.values():
            out.extend(g.rules)
        return tuple(out)
