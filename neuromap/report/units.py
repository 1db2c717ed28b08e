"""Numbers for reading: energies in pJ .. J, times in ns .. s, power in uW .. W, counts as
integers. Every formatter returns (text, unit) so the HTML can carry the raw value beside it."""
from __future__ import annotations

import math

#: (scale relative to the base unit, unit name), smallest first
ENERGY_UNITS = ((1.0, "pJ"), (1e3, "nJ"), (1e6, "uJ"), (1e9, "mJ"), (1e12, "J"))   # base: pJ
TIME_UNITS = ((1.0, "ns"), (1e3, "us"), (1e6, "ms"), (1e9, "s"))                   # base: ns
POWER_UNITS = ((1e-6, "uW"), (1e-3, "mW"), (1.0, "W"))                             # base: W
EDP_UNITS = ((1.0, "pJ*ns"), (1e9, "uJ*us"), (1e15, "mJ*ms"))                       # base: pJ*ns
#: significant digits shown for a scaled quantity
DIGITS = 4


def _scaled(value: float, units: tuple[tuple[float, str], ...]) -> tuple[str, str]:
    if value is None or not math.isfinite(value):
        return "n/a", ""
    scale, name = units[0]
    for s, n in units:
        if abs(value) >= s:
            scale, name = s, n
    return _sig(value / scale), name


def _sig(x: float, digits: int = DIGITS) -> str:
    """``x`` with ``digits`` significant digits, thousands separated, no exponent."""
    if x == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))
    return f"{x:,.{decimals}f}"


def energy(pj: float) -> tuple[str, str]:
    return _scaled(pj, ENERGY_UNITS)


def duration(ns: float) -> tuple[str, str]:
    return _scaled(ns, TIME_UNITS)


def power(w: float) -> tuple[str, str]:
    return _scaled(w, POWER_UNITS)


def edp(pj_ns: float) -> tuple[str, str]:
    return _scaled(pj_ns, EDP_UNITS)


def count(x: float) -> str:
    """A count as an integer (per-inference averages are rounded; below 10 one decimal is kept
    so that 0.4 does not read as 0)."""
    if x is None:
        return "n/a"
    if abs(x) < 10 and x != int(x):
        return f"{x:.1f}"
    return f"{int(round(x)):,}"


def percent(fraction: float, decimals: int = 1) -> str:
    return "n/a" if fraction is None else f"{100 * fraction:.{decimals}f}"


def plain(x: float, decimals: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{decimals}f}"


def samples(n: int) -> str:
    """'1 sample', '450 samples'."""
    return f"{n:,} sample" + ("" if n == 1 else "s")


def parse(text: str, unit: str) -> float:
    """The value a formatted ``text`` + ``unit`` stands for, in the base unit (tests read the
    page back with it)."""
    x = float(text.replace(",", ""))
    for table in (ENERGY_UNITS, TIME_UNITS, POWER_UNITS, EDP_UNITS):
        for s, n in table:
            if n == unit:
                return x * s
    if unit == "%":
        return x / 100
    return x
