"""``python -m neuromap.review``: compare deployments (design options) side by side.

    python -m neuromap.review hw_reports/a/report.json hw_reports/b/report.json ... --out DIR
    python -m neuromap.review hw_reports --out DIR        # every */report.json in the folder

Writes DIR/comparison.html (one self-contained page: the table, a Pareto plot of accuracy
against energy per inference, and what differs between the runs: model, profile, strategy, T,
input), DIR/comparison.md and DIR/comparison.json. Every report is read and checked against the
report schema (docs/report-schema.md) before anything is written: a missing, malformed or
older report is named on one line, with exit status 2, and nothing is written."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from .errors import CliParser, NeuromapError, run_cli
from .outputs import check_file, check_folder, json_text, write_bytes
from .report.compare import build_comparison, render_comparison_html, render_comparison_markdown
from .report.schema import SCHEMA, check_report

#: largest report.json read (a 10,000-core report is a few MB)
MAX_BYTES = 256 * 1024 * 1024
OUTPUTS = ("comparison.html", "comparison.md", "comparison.json")


def report_paths(args: Sequence[Path]) -> list[Path]:
    """The report files named, a folder standing for every ``*/report.json`` in it (or its own)."""
    out: list[Path] = []
    for p in args:
        if p.is_dir():
            found = sorted(p.glob("*/report.json")) or ([p / "report.json"] if (p / "report.json").is_file() else [])
            if not found:
                raise NeuromapError(f"{p}: no report.json in it or in its subfolders; pass report files "
                                    f"or a folder of `python -m neuromap.deploy` reports")
            out += found
        else:
            out.append(p)
    return out


def load_report(path: Path) -> dict[str, Any]:
    """A report read and checked; every problem is one NeuromapError naming the file."""
    if not path.is_file():
        raise NeuromapError(f"{path}: no such report file; pass a report.json written by "
                            f"`python -m neuromap.deploy`")
    if path.stat().st_size > MAX_BYTES:
        raise NeuromapError(f"{path}: larger than {MAX_BYTES >> 20} MiB, not a neuromap report")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"),
                          parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not JSON")))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise NeuromapError(f"{path}: not valid JSON ({str(exc)[:120]}); regenerate it with "
                            f"`python -m neuromap.deploy`") from None
    bad = check_report(data)
    if bad:
        raise NeuromapError(f"{path}: not a readable {SCHEMA} report: {bad}")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = CliParser(prog="python -m neuromap.review", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("reports", nargs="+", type=Path, help="report.json files or folders of reports")
    parser.add_argument("--out", type=Path, required=True, help="folder for comparison.{html,md,json}")
    args = parser.parse_args(argv)
    paths = report_paths(args.reports)
    check_folder(args.out, "--out")
    for name in OUTPUTS:
        check_file(args.out / name, "--out", paths)
    reports = [(str(p), load_report(p)) for p in paths]
    comparison = build_comparison(reports)
    html = render_comparison_html(comparison)
    md = render_comparison_markdown(comparison)
    text = json_text(comparison)
    for name, body in zip(OUTPUTS, (html, md, text)):
        write_bytes(args.out / name, body.encode())
    print(md.split("\n## What differs")[0].rstrip())
    print(f"\nwritten: {', '.join(str(args.out / n) for n in OUTPUTS)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
