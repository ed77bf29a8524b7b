#!/usr/bin/env python3
"""Render every example profile as HTML and PDF, and turn both into PNGs to look at.

Usage:  python scripts/render_check.py OUT_DIR [PROFILE.yaml ...] [--rules DIR]

For each profile (default: every facts/examples/*.yaml) it writes into OUT_DIR:
  <name>.html, <name>.pdf, <name>.md, <name>.txt   the reports
  <name>-html.png                                  headless Chromium screenshot of the HTML
  <name>-pdf-<page>.png                            each PDF page, via pdftoppm -r 60
Needs the package installed (with WeasyPrint), and `chromium` and `pdftoppm` on PATH for the
PNGs (a missing tool is reported and skipped). Prints one line per file written.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from haircare_expert.consult.advisor import Advisor
from haircare_expert.render.formats import render, write_atomic

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--hide-scrollbars", "--window-size=1240,1754"]


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html: Path, png: Path) -> bool:
    browser = chromium()
    if not browser:
        print("skip: chromium not found (apt-get install -y chromium)", file=sys.stderr)
        return False
    with tempfile.TemporaryDirectory() as profile_dir:
        cmd = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}",
               f"--screenshot={png}", html.resolve().as_uri()]
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=False)
    return png.exists()


def pdf_pages(pdf: Path, prefix: Path) -> list[Path]:
    if not shutil.which("pdftoppm"):
        print("skip: pdftoppm not found (apt-get install -y poppler-utils)", file=sys.stderr)
        return []
    for old in prefix.parent.glob(prefix.name + "-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(prefix)], check=True, timeout=120)
    return sorted(prefix.parent.glob(prefix.name + "-*.png"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the reports and PNGs")
    parser.add_argument("profiles", nargs="*", type=Path, help="profiles (default: facts/examples/*.yaml)")
    parser.add_argument("--rules", action="append", default=[], help="extra rule folder")
    args = parser.parse_args(argv)
    profiles = args.profiles or sorted((ROOT / "facts" / "examples").glob("*.yaml"))
    args.out.mkdir(parents=True, exist_ok=True)
    advisor = Advisor(extra_rules=args.rules)
    for profile in profiles:
        consultation = advisor.consult_file(profile)
        name = profile.stem
        for fmt in ("html", "pdf", "md", "txt"):
            target = args.out / f"{name}.{fmt}"
            write_atomic(target, render(consultation, fmt))
            print(target)
        png = args.out / f"{name}-html.png"
        if screenshot(args.out / f"{name}.html", png):
            print(png)
        for page in pdf_pages(args.out / f"{name}.pdf", args.out / f"{name}-pdf"):
            print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
