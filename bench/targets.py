"""One way for every benchmark to print a figure beside its target.

    figure  <value> <unit>, target <op> <target> <unit>, ratio <value/target>: met / NOT met

Lower is better for times and memory (ratio at most 1 meets the target); rates pass
higher=True (ratio at least 1 meets it).
"""

from __future__ import annotations


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def verdict(
    name: str, value: float, target: float | None, unit: str, *, higher: bool = False,
    note: str = "",
) -> str:
    """The line for one figure; `target` None prints "no target" (a figure to watch)."""
    shown = f"{value:,.1f} {unit}" if unit else f"{value:,.2f}"
    if target is None:
        return f"{name:<48} {shown:>12}  (no target){note}"
    ratio = value / target if target else float("inf")
    ok = ratio >= 1 if higher else ratio <= 1
    op = ">=" if higher else "<"
    return (
        f"{name:<48} {shown:>12}  target {op} {target:,.0f} {unit}, ratio {ratio:.2f}: "
        f"{met(ok)}{note}"
    )
