"""No module builds callback data by hand: every button's data is a kind's `pack()` in
texts/callbacks.py (declared in texts/callback_kinds/), so each prefix is written once and
every press is decoded by the same codec. A literal such as f"rp:o:{id}" elsewhere would
send data that the codec's checks never saw, and would break silently when a kind changes."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from texts.callbacks import KINDS, SEPARATOR

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "config", "handlers", "models", "outputs", "scheduler", "texts", "transport")
CODEC = {ROOT / "texts" / "callbacks.py", ROOT / "texts" / "callback_codec.py"}
KINDS_DIR = ROOT / "texts" / "callback_kinds"  # the kinds, one module per room
# "rp", "rd", "st", "nd", ...: the first part of every prefix, the families of buttons.
FAMILIES = {prefix.split(SEPARATOR)[0] for prefix in KINDS}


def sources() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path not in CODEC and path.parent != KINDS_DIR and "migrations" not in path.parts:
                yield path


def docstrings(tree: ast.AST) -> set[int]:
    """The ids of strings standing alone as statements (docstrings of modules, classes,
    functions and attributes): their examples of data are documentation, not data."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }


def looks_like_data(text: str) -> bool:
    return text in KINDS or any(text.startswith(family + SEPARATOR) for family in FAMILIES)


def hand_built(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, what) of every string that reads like callback data, and of every
    callback_data= that is written out rather than packed."""
    skip = docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in skip and looks_like_data(node.value):
                yield node.lineno, repr(node.value)
        elif isinstance(node, ast.JoinedStr):
            head = node.values[0] if node.values else None
            if isinstance(head, ast.Constant) and looks_like_data(str(head.value)):
                yield node.lineno, ast.unparse(node)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "join" and isinstance(node.func.value, ast.Constant)
              and node.func.value.value == SEPARATOR):
            # Parts joined with the codec's separator: data being put together.
            yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.keyword) and node.arg == "callback_data":
            value = node.value
            written = isinstance(value, ast.Constant | ast.JoinedStr | ast.BinOp) or (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and value.func.attr in ("join", "format")
            )
            if written:
                yield value.lineno, f"callback_data={ast.unparse(value)}"


def test_no_module_builds_callback_data_by_hand() -> None:
    found = []
    scanned = 0
    for path in sources():
        scanned += 1
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found += [f"{path.relative_to(ROOT)}:{line}: {what}" for line, what in hand_built(tree)]
    assert scanned > 50  # the tree was found
    assert not found, "\n".join(found)


def test_the_check_sees_what_it_looks_for() -> None:
    """The scan itself: each way of writing data by hand is caught, packing is not."""
    caught = """
a = f"rp:o:{round_id}"
b = "rd:l"
c = Button("x", callback_data=":".join(("rp", "x", str(sub))))
d = Button("x", callback_data="menu:" + "home")
e = Button("x", callback_data="{}:{}".format("nv", 7))
f = ":".join((PREFIX, action, *parts))
"""
    lines = {line for line, _what in hand_built(ast.parse(caught))}
    assert lines == {2, 3, 4, 5, 6, 7}
    fine = '''
"""A docstring may show "rp:o:7"."""
a = Button("x", callback_data=OpenReport(7).pack())
b = Button("x", callback_data=data)
c = f"{key[0]}:{key[1]}"
d = "Send /report: it opens the list"
'''
    assert list(hand_built(ast.parse(fine))) == []
