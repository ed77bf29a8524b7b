#!/usr/bin/env python3
"""Render every example's handout and record as HTML and PDF, and turn them into PNGs to look at.

Usage:  python scripts/render_check.py OUT_DIR [PROFILE.yaml ...] [--rules DIR] [--for AUDIENCE]
                                       [--resolution DPI] [--no-browser]

For each profile (default: every facts/examples/*.yaml) and audience (default: both the client's
handout and the consultant's record) it writes into OUT_DIR:
  <name>.<audience>.{html,pdf,md,txt}          the reports
  <name>.<audience>-html.png                   headless Chromium screenshot of the HTML
  <name>.<audience>-pdf-<page>.png             each PDF page, via pdftoppm -r DPI (default 50)
and prints one line per file written, with the page count of each PDF (a handout over two
pages is flagged). Needs the package installed (with WeasyPrint), and `chromium` and
`pdftoppm` on PATH for the PNGs (a missing tool is reported and skipped).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from haircare_expert.atomic import write_atomic
from haircare_expert.consult.advisor import Advisor
from haircare_expert.render.formats import AUDIENCES, HANDOUT_PAGES, render

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


def pdf_pages(pdf: Path, prefix: Path, dpi: int = 50) -> list[Path]:
    if not shutil.which("pdftoppm"):
        print("skip: pdftoppm not found (apt-get install -y poppler-utils)", file=sys.stderr)
        return []
    for old in prefix.parent.glob(prefix.name + "-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), str(pdf), str(prefix)], check=True, timeout=120)
    return sorted(prefix.parent.glob(prefix.name + "-*.png"))


def _page_count(pdf: Path) -> int:
    """The number of pages of a PDF (pypdf, from the test extra)."""
    from pypdf import PdfReader
    return len(PdfReader(str(pdf)).pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the reports and PNGs")
    parser.add_argument("profiles", nargs="*", type=Path, help="profiles (default: facts/examples/*.yaml)")
    parser.add_argument("--rules", action="append", default=[], help="extra rule folder")
    parser.add_argument("--for", dest="audiences", action="append", choices=AUDIENCES,
                        help="client (the handout) or consultant (the record); default: both")
    parser.add_argument("--resolution", type=int, default=50, help="PNG resolution of the PDF pages")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium screenshots")
    args = parser.parse_args(argv)
    profiles = args.profiles or sorted((ROOT / "facts" / "examples").glob("*.yaml"))
    args.out.mkdir(parents=True, exist_ok=True)
    advisor = Advisor(extra_rules=args.rules)
    for profile in profiles:
        consultation = advisor.consult_file(profile)
        for audience in args.audiences or AUDIENCES:
            name = f"{profile.stem}.{audience}"
            for fmt in ("html", "pdf", "md", "txt"):
                target = args.out / f"{name}.{fmt}"
                write_atomic(target, render(consultation, fmt, audience))
                print(target)
            pdf = args.out / f"{name}.pdf"
            pages = _page_count(pdf)
            flag = "  <-- over two pages" if audience == "client" and pages > HANDOUT_PAGES else ""
            print(f"{pdf}: {pages} page(s){flag}")
            png = args.out / f"{name}-html.png"
            if not args.no_browser and screenshot(args.out / f"{name}.html", png):
                print(png)
            for page in pdf_pages(pdf, args.out / f"{name}-pdf", args.resolution):
                print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
