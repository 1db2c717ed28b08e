"""Open report pages in headless Chromium: fail on any console message or on any fetch the page
makes beyond its own file, and save a screenshot of each.

    .venv/bin/python benchmarks/render_report.py hw_reports/NAME [hw_reports/OTHER/index.html ...]
        [--out benchmarks/results/screenshots] [--width 1280] [--height 9000]

An argument is an index.html / comparison.html or a folder holding one. A neuromap page runs no
script, so any console line (an error, a warning, a log) is a failure; Chromium is started with
every host name unresolvable and its network log is read back, so a page fetching anything
(image, font, style sheet) fails too (Chromium's own background requests to Google's update and
account services are not the page's and are ignored). Needs Debian's `chromium` package
(`apt-get install chromium`); without it the script says so and exits with status 2. Not part
of the test run: it starts a browser per page (a few seconds each).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: hosts Chromium itself contacts in the background (not requests of the page)
BROWSER_HOSTS = re.compile(r"^https?://([a-z0-9-]+\.)*(google\.com|gvt1\.com|googleapis\.com|gstatic\.com)(/|:|$)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--enable-logging=stderr", "--v=0",
         "--host-resolver-rules=MAP * ~NOTFOUND"]


def find_browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def page_of(arg: str) -> Path:
    p = Path(arg)
    if p.is_dir():
        for name in ("index.html", "comparison.html"):
            if (p / name).is_file():
                return p / name
        raise SystemExit(f"error: {p} holds no index.html or comparison.html")
    if not p.is_file():
        raise SystemExit(f"error: {p} does not exist")
    return p


def render(browser: str, page: Path, shot: Path, width: int, height: int) -> list[str]:
    """Problems found while Chromium renders ``page`` (empty: clean); writes ``shot``."""
    with tempfile.TemporaryDirectory() as tmp:
        netlog = Path(tmp) / "net.json"
        cmd = [browser, *FLAGS, f"--user-data-dir={tmp}/profile", f"--log-net-log={netlog}",
               f"--window-size={width},{height}", f"--screenshot={shot}", page.resolve().as_uri()]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        problems = [line.split("] ", 1)[-1] for line in res.stderr.splitlines() if ":CONSOLE" in line]
        if res.returncode != 0 or not shot.is_file():
            problems.append(f"chromium exited with status {res.returncode} and no screenshot")
        urls = set(re.findall(r'"url":"([^"]*)"', netlog.read_text(errors="replace"))) if netlog.is_file() else set()
        fetched = sorted(u for u in urls if not u.startswith(("file:", "data:")) and not BROWSER_HOSTS.match(u))
        problems += [f"the page fetched {u}" for u in fetched]
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pages", nargs="+", help="index.html, comparison.html, or folders holding one")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/screenshots"))
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=9000, help="window height: the screenshot's (whole page)")
    args = ap.parse_args()
    browser = find_browser()
    if browser is None:
        print("error: no Chromium found (chromium, chromium-browser, google-chrome); install Debian's "
              "package with `apt-get install chromium` and run this script again", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    results = {}
    for i, arg in enumerate(args.pages):
        page = page_of(arg)
        shot = args.out / f"{i:02d}-{page.parent.name}-{page.stem}.png"
        problems = render(browser, page, shot, args.width, args.height)
        results[str(page)] = {"screenshot": str(shot), "problems": problems}
        print(f"{'FAIL' if problems else 'ok  '} {page} -> {shot}")
        for p in problems:
            print(f"     {p}")
        failed += bool(problems)
    print(json.dumps({"pages": len(results), "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
