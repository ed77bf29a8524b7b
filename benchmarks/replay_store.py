"""``haircare replay --all`` over a store of 10,000 consultations: no change on unchanged rules, and
exactly the right consultations after one rule edit.

    python benchmarks/replay_store.py                  # 10,000 consultations, 2 jobs, SQLite
    python benchmarks/replay_store.py --count 2000 --jobs 1
    python benchmarks/replay_store.py --db postgresql+psycopg://postgres@/bench?host=/tmp/pg

Every consultation is a different generated client (``benchmarks/profiles.py``, fixed seed),
advised by the shipped rules and stored through ``records import`` (bulk insert). The replay is
then run twice: with the same rules (every consultation must come back unchanged) and with one
recommendation rule reworded in a consultant's rule folder (exactly the consultations whose
stored advice holds that rule must be reported, all grouped under it). Prints a Markdown table;
exits 1 if either check fails.

Measured 2026-11-29 on the development VM (2 vCPUs, load average about 10 from other jobs, so
read these as upper bounds), SQLite, 2 jobs: advising the 10,000 clients 304 s (204 MB of audit
records), storing them 101 s, replay with unchanged rules 258 s (0 changed, right), replay after
rewording `recommend-heat-protection` 269 s (2,884 changed, exactly the expected ones). About
three quarters of a replay is the engine re-running the consultation.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from profiles import generate

from haircare_expert.consult.advisor import Advisor
from haircare_expert.knowledge.rulebook import Rulebook
from haircare_expert.store import EXPORT_SCHEMA, Store
from haircare_expert.store.replay import replay_all


def export_line(index: int, profile: dict, record: dict) -> str:
    client = {"name": f"Client {index:05d}", "consultant": "Sam", "date": "2026-11-22"}
    profile = {**profile, "client": client}
    record = {**record, "client": client}
    return json.dumps({
        "schema": EXPORT_SCHEMA, "uid": uuid.uuid4().hex, "client": client["name"], "consultant": "Sam",
        "date": "2026-11-22", "created": "2026-11-22T09:00:00.000000Z",
        "updated": "2026-11-22T09:00:00.000000Z", "finished": True, "version": 2,
        "session": {"schema": "haircare-interview/1", "profile": profile,
                    "interview": {"finished": True, "asked": []}},
        "record": record, "kb_version": record["knowledge_base"]["version"],
        "kb_fingerprint": record["knowledge_base"]["fingerprint"], "targets": {}, "follows": None},
        default=str)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--db", help="a SQLAlchemy URL of an EMPTY database (default: a temporary SQLite file)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="haircare-bench-"))
    advisor = Advisor()

    started = time.perf_counter()
    lines, fired = [], {}
    for index, profile in enumerate(generate(args.count, seed=16)):
        profile.pop("client", None)
        record = json.loads(json.dumps(advisor.consult(profile).to_json(), default=str))
        for item in record["advice"]:
            fired.setdefault(item["rule"], set()).add(f"Client {index:05d}")
        lines.append(export_line(index, profile, record))
    made = time.perf_counter() - started

    store = Store.open(args.db or str(folder / "records.sqlite3"))
    started = time.perf_counter()
    store.import_jsonl(lines)
    stored = time.perf_counter() - started
    size = sum(len(line) for line in lines) / 1e6

    started = time.perf_counter()
    same = replay_all(store, advisor, jobs=args.jobs)
    unchanged = time.perf_counter() - started
    ok_same = same.total == args.count and not same.changed and not same.errors

    rule_id = max((r for r, clients in fired.items()
                   if advisor.rulebook.by_id[r].kind == "recommendation"
                   and "{" not in advisor.rulebook.by_id[r].advise
                   and len(clients) < args.count // 2), key=lambda r: (len(fired[r]), r))
    raw = json.loads(json.dumps(advisor.rulebook.by_id[rule_id].raw, default=str))
    raw["then"]["advise"] += " Ask us about it at your next visit."
    edit = folder / "edited"
    edit.mkdir()
    (edit / "edit.yaml").write_text(yaml.safe_dump({"rules": [raw]}, sort_keys=False), encoding="utf-8")
    edited = Advisor(Rulebook.load([edit]))
    started = time.perf_counter()
    after = replay_all(store, edited, jobs=args.jobs, rules_dirs=[str(edit)])
    changed = time.perf_counter() - started
    ok_edit = ({c.client for c in after.changes} == fired[rule_id]
               and list(after.groups()) == [rule_id] and not after.errors)
    store.close()

    print(f"### `replay --all` over {args.count:,} stored consultations ({args.jobs} job(s), "
          f"{'SQLite' if not args.db else args.db.split(':')[0]})\n")
    print("| step | time | result |")
    print("| --- | ---: | --- |")
    print(f"| advise {args.count:,} generated clients | {made:.1f} s | {size:.0f} MB of audit records |")
    print(f"| store them (`records import`, bulk) | {stored:.1f} s | |")
    print(f"| replay, rules unchanged | {unchanged:.1f} s | {len(same.changes)} changed "
          f"({'right' if ok_same else 'WRONG'}) |")
    print(f"| replay after editing `{rule_id}` | {changed:.1f} s | {len(after.changes)} changed, "
          f"expected {len(fired[rule_id])} ({'right' if ok_edit else 'WRONG'}) |")
    return 0 if ok_same and ok_edit else 1


if __name__ == "__main__":
    sys.exit(main())
