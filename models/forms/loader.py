"""Reading form TOML files into FormDef, and telling bureau staff what is wrong.

The loader never stops at the first problem: `check_forms` lists every problem it
can find in every file, so that one run of `huibao forms check` shows all of them.
How one file becomes a FormDef is in loader_form (and loader_tables, loader_fields,
loader_rules); this module reads files and directories and keeps the registry.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from models.forms.definition import FormDef, FormError, Problem
from models.forms.loader_form import build_form


def _build(data: Mapping[str, Any], file: str) -> tuple[FormDef | None, list[Problem]]:
    """The form of one parsed file, or None and every problem in it (tests and the
    round service call this on TOML they already hold)."""
    return build_form(data, file)


# --- public API ------------------------------------------------------------------------


def _read(path: Path) -> tuple[FormDef | None, list[Problem]]:
    file = str(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        return None, [Problem(file, None, f"not valid TOML: {err}")]
    except OSError as err:
        return None, [Problem(file, None, f"cannot read the file: {err.strerror or err}")]
    except UnicodeDecodeError:
        return None, [Problem(file, None, "the file is not UTF-8 text")]
    return _build(data, file)


def load_form(path: str | Path) -> FormDef:
    """Load one form file; FormError (with .problems) if anything is wrong with it."""
    form, problems = _read(Path(path))
    if form is None:
        raise FormError(
            f"{path}: {len(problems)} problem(s): " + "; ".join(str(p) for p in problems),
            problems,
        )
    return form


class FormRegistry:
    """Every loaded form, by code and version."""

    def __init__(self, forms: Iterable[FormDef] = ()) -> None:
        self._forms: dict[tuple[str, int], FormDef] = {}
        for f in forms:
            self.add(f)

    def add(self, form: FormDef) -> None:
        key = (form.code, form.version)
        if key in self._forms:
            raise FormError(
                f"form {form.code} version {form.version} is defined twice "
                f"({self._forms[key].source} and {form.source})"
            )
        self._forms[key] = form

    def get(self, code: str, version: int | None = None) -> FormDef:
        """That version of the form, or its latest version; KeyError if unknown."""
        if version is not None:
            return self._forms[(code, version)]
        versions = self.versions(code)
        if not versions:
            raise KeyError(code)
        return self._forms[(code, versions[-1])]

    def versions(self, code: str) -> list[int]:
        return sorted(v for c, v in self._forms if c == code)

    def latest(self) -> list[FormDef]:
        """The newest version of each form, ordered by code."""
        return [self.get(code) for code in sorted({c for c, _ in self._forms})]

    def __iter__(self) -> Iterator[FormDef]:
        return iter(sorted(self._forms.values(), key=lambda f: (f.code, f.version)))

    def __len__(self) -> int:
        return len(self._forms)

    def __contains__(self, code: object) -> bool:
        return any(c == code for c, _ in self._forms)


def _scan(directory: str | Path) -> tuple[list[FormDef], list[Problem]]:
    root = Path(directory)
    if not root.is_dir():
        return [], [Problem(str(root), None, "no such directory")]
    forms: list[FormDef] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, int], str] = {}
    for path in sorted(root.glob("*.toml")):
        form, found = _read(path)
        problems.extend(found)
        if form is None:
            continue
        key = (form.code, form.version)
        if key in seen:
            problems.append(
                Problem(
                    str(path),
                    None,
                    f"form {form.code} version {form.version} is already defined in "
                    f"{seen[key]}; a changed form needs a new version number",
                )
            )
            continue
        seen[key] = str(path)
        forms.append(form)
    return forms, problems


def check_forms(directory: str | Path) -> list[Problem]:
    """Every problem in every *.toml form of `directory` (empty when all is well)."""
    return _scan(directory)[1]


def load_forms(directory: str | Path) -> FormRegistry:
    """Load every *.toml form of `directory`; FormError listing all problems if any."""
    forms, problems = _scan(directory)
    if problems:
        raise FormError(
            f"{len(problems)} problem(s) in the forms of {directory}:\n"
            + "\n".join(str(p) for p in problems),
            problems,
        )
    return FormRegistry(forms)
