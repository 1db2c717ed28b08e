"""The profile constants a report prices events with, each with the source its YAML states.

Profiles keep their sources in YAML comments, which a YAML parser drops; ``yaml_notes`` reads
them back from the text: a key's note is its inline comment, else the comment lines right above
it, else its section's note (the section key's own comments and the comment lines that open the
section), else the file's header comment."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..hw.profile import OPTIONAL_KEYS, HardwareProfile, bounded

#: per-event keys the cost model prices in time only
TIME_ONLY = ("message_in", "host_message")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_]+)\s*:(.*)$")


def _inline(rest: str) -> str:
    """The comment of a line's value part (a '#' outside quotes)."""
    quote = None
    for i, ch in enumerate(rest):
        if ch in "'\"":
            quote = None if quote == ch else (quote or ch)
        elif ch == "#" and quote is None and (i == 0 or rest[i - 1].isspace()):
            return rest[i + 1:].strip()
    return ""


def yaml_notes(text: str) -> dict[str, str]:
    """``{"section.key": note}`` for every mapping key of a block-style YAML file, and ``""``
    for the file's header comment."""
    notes: dict[str, str] = {}
    header: list[str] = []
    pending: list[str] = []
    stack: list[tuple[int, str]] = []       # (indent, key) of the open mappings
    opening: dict[str, list[str]] = {}     # section -> comment lines before its first child
    block: dict[str, str] = {}             # parent -> the comment block covering the run of keys
    seen_key = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            (pending if seen_key else header).append(stripped.lstrip("#").strip())
            continue
        m = _KEY.match(line)
        if not m or stripped.startswith("-"):
            if not stripped:                # a blank line ends the run a comment block covers
                block.clear()
            pending = [] if stripped else pending
            continue
        seen_key = True
        indent, key, rest = len(m.group(1)), m.group(2), m.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = ".".join(k for _, k in stack)
        path = f"{parent}.{key}" if parent else key
        if parent and parent not in opening:       # the first child: comments above open the section
            opening[parent] = pending
            pending = []
        if pending:                                 # a block above a key covers the keys after it
            block[parent] = " ".join(pending)
        notes[path] = _inline(rest) or block.get(parent, "")
        if not rest.strip() or rest.strip().startswith("#"):
            stack.append((indent, key))
        pending = []
    for section, lines in opening.items():
        parts = [notes.get(section, ""), " ".join(lines)]
        notes[section] = " ".join(p for p in parts if p)
    notes[""] = " ".join(header)
    return notes


def note_for(notes: dict[str, str], path: str) -> str:
    """The nearest note for a dotted key: its own, else its sections', else the file header's."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        text = notes.get(".".join(parts[:i]))
        if text:
            return text
    return notes.get("", "")


def profile_constants(profile: HardwareProfile) -> list[dict[str, Any]]:
    """Every number the cost model and the mapper's budgets read from the profile, with its unit
    and source note: ``{"key", "value", "unit", "source"}``."""
    try:
        notes = yaml_notes(Path(profile.source).read_text())
    except (OSError, UnicodeDecodeError):
        notes = {}
    rows: list[dict[str, Any]] = []

    def add(key: str, value: Any, unit: str, note_key: str | None = None) -> None:
        name = key.rsplit(".", 1)[-1]
        if notes and (note_key or key) not in notes and name in OPTIONAL_KEYS:
            default = OPTIONAL_KEYS[name]
            source = f"not in the profile: {'the value of ' + default if isinstance(default, str) else default}"
        else:
            source = note_for(notes, note_key or key) or "not stated in the profile"
        rows.append({"key": key, "value": value, "unit": unit, "source": source})

    for k, v in profile.energy_pj.items():
        if k not in TIME_ONLY:
            add(f"energy_pj.{k}", float(v), "pJ")
    for k, v in profile.time_ns.items():
        add(f"time_ns.{k}", float(v), "ns")
    add("static_power_w_per_chip", float(profile.static_power_w_per_chip), "W")
    for tiles, ns in sorted(profile.barrier_ns.items()):
        add(f"barrier_ns.{tiles}", float(ns), "ns", "barrier_ns")
    for t, n in profile.max_neurons.items():
        add(f"core.max_neurons.{t}", int(n), "neurons")
    for key, unit in (("memory_words", "words"), ("max_input_axons", "axons"), ("max_output_routes", "routes"),
                      ("max_neuron_groups", "groups"), ("max_axon_map", "entries")):
        limit = bounded(getattr(profile, key))
        if limit is not None:  # an unbounded budget has no constant to show
            add(f"core.{key}", limit, unit)
    add("chip.cores_per_chip", int(profile.cores_per_chip), "cores")
    add("chip.cores_per_tile", int(profile.cores_per_tile), "cores")
    return rows
