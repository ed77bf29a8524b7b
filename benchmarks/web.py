"""Server time per screen of `haircare serve`, measured in-process; prints a Markdown table.

    python benchmarks/web.py              # every example profile, 3 rounds (about a minute)
    python benchmarks/web.py --rounds 1

Each round runs a whole consultation for every example profile in facts/examples/ through the
Flask app (the same app `haircare serve` runs, over a SQLite records file in a temporary
folder): the start page, the new consultation, every question screen (GET) and every answer
(POST, committed to the store), Back once, the review screen, an edit on it, finish, the done
screen and a why page. The time is the server's: from the request entering the app to the
response leaving it (Flask's test client, no network), so it is what a tablet would wait for
beyond the network. The PDF handout is timed on its own (WeasyPrint dominates it). The target
is p95 <= 50 ms per screen on the shipped rules.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from web_scenarios import EXAMPLES, answers_of, form_values  # noqa: E402

from haircare_expert.web import create_app  # noqa: E402

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
KEY = re.compile(r'name="key" value="([^"]+)"')


class Timed:
    def __init__(self, client):
        self.client = client
        self.times: dict[str, list[float]] = {}
        self.token = ""

    def call(self, screen: str, method: str, url: str, data: dict | None = None):
        start = time.perf_counter()
        response = self.client.open(url, method=method, data=data)
        self.times.setdefault(screen, []).append((time.perf_counter() - start) * 1000)
        if response.mimetype == "text/html":
            found = TOKEN.search(response.get_data(as_text=True))
            if found:
                self.token = found.group(1)
        return response


def consultation(t: Timed, example: str, pdf: bool) -> None:
    client, answers = answers_of(example)
    t.call("start page", "GET", "/")
    r = t.call("new consultation", "POST", "/start", {"csrf_token": t.token, "client": client["name"],
                                                      "consultant": client["consultant"], "date": client["date"]})
    rid = int(re.search(r"/c/(\d+)/", r.location).group(1))
    went_back = False
    while True:
        r = t.call("question", "GET", f"/c/{rid}/question")
        if r.status_code == 302:
            break
        key = KEY.search(r.get_data(as_text=True)).group(1)
        data = {"csrf_token": t.token, "key": key}
        if key in answers:
            data["answer"] = form_values(answers[key])
        else:
            data["dontknow"] = "1"
        t.call("answer", "POST", f"/c/{rid}/answer", data)
        if not went_back:
            t.call("back", "POST", f"/c/{rid}/back", {"csrf_token": t.token})
            went_back = True
    t.call("review", "GET", f"/c/{rid}/review")
    field = next(k for k in ("hair.concerns", "scalp.symptoms", "goals") if k in answers)
    t.call("edit form", "GET", f"/c/{rid}/edit?key={field}")
    t.call("edit", "POST", f"/c/{rid}/edit", {"csrf_token": t.token, "key": field,
                                               "answer": form_values(answers[field])})
    t.call("finish", "POST", f"/c/{rid}/finish", {"csrf_token": t.token})
    r = t.call("done", "GET", f"/c/{rid}/done")
    rule = re.search(r"/why/([a-z0-9-]+)", r.get_data(as_text=True)).group(1)
    t.call("why", "GET", f"/c/{rid}/why/{rule}")
    t.call("handout (HTML)", "GET", f"/c/{rid}/handout.html")
    if pdf:
        t.call("handout (PDF)", "GET", f"/c/{rid}/handout.pdf")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    examples = sorted(p.stem for p in EXAMPLES.glob("*.yaml"))
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"DB_URL": f"sqlite:///{Path(folder) / 'records.db'}", "SECRET_KEY": "bench"})
        t = Timed(app.test_client())
        consultation(t, examples[0], pdf=False)          # warm-up: templates, first queries
        t.times.clear()
        for round_ in range(args.rounds):
            for example in examples:
                consultation(t, example, pdf=round_ == 0)
        app.extensions["haircare_desk"].store.close()
    pages = [v for k, v in t.times.items() if k != "handout (PDF)" for v in v]
    print(f"Server time per screen, {args.rounds} round(s) x {len(examples)} example consultations "
          "(ms; Flask test client, SQLite records)\n")
    print("| screen | requests | median | p95 | max |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for screen, values in t.times.items():
        print(f"| {screen} | {len(values)} | {statistics.median(values):.1f} | {p95(values):.1f} | {max(values):.1f} |")
    print(f"| **every screen but the PDF** | {len(pages)} | {statistics.median(pages):.1f} | "
          f"**{p95(pages):.1f}** | {max(pages):.1f} |")
    verdict = "meets" if p95(pages) <= 50 else "MISSES"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\np95 {p95(pages):.1f} ms {verdict} the 50 ms target "
          f"(load average {load:.1f} on {os.cpu_count()} CPUs while measuring).")


if __name__ == "__main__":
    main()
