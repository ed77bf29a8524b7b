"""Replay the whole store after a rule edit: ``haircare replay --all``.

Every finished consultation's audit record is re-run through the current rules (the one-record
replay of :mod:`haircare_expert.audit.replay`); the result says which consultations would now
get different advice, grouped by the rule edit behind each change. Consultations with the same
input under the same recorded knowledge base are replayed once. With ``jobs`` > 1 the records
are replayed in worker processes.
"""
from __future__ import annotations

import json
import multiprocessing
import signal
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice

from haircare_expert.errors import HaircareError

SCHEMA = "haircare-replay-all/1"
_CHUNK = 100
_WORKER: dict = {}


@dataclass
class RecordChange:
    """One stored consultation whose advice would change."""

    id: int
    client: str
    date: str
    caused_by: list[str]              #: changed rules in the derivation of its changed lines
    added: int = 0
    removed: int = 0
    changed: int = 0
    other: list[str] = field(default_factory=list)   #: schedule days, wash-day order, conflicts

    def to_json(self) -> dict:
        return {"id": self.id, "client": self.client, "date": self.date,
                "caused_by": list(self.caused_by),
                "advice": {"added": self.added, "removed": self.removed, "changed": self.changed},
                "other": list(self.other)}


@dataclass
class StoreReplay:
    """The outcome of replaying every finished consultation in the store."""

    total: int = 0
    changes: list[RecordChange] = field(default_factory=list)
    rule_changes: dict[str, str] = field(default_factory=dict)   #: rule -> edited/added/removed
    errors: list[tuple[int, str]] = field(default_factory=list)  #: records that could not be replayed
    knowledge_base: dict = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def groups(self) -> dict[str, list[RecordChange]]:
        """Changed consultations by the rule edit behind them ("" for none in the derivation)."""
        out: dict[str, list[RecordChange]] = {}
        for change in self.changes:
            for rule in change.caused_by or [""]:
                out.setdefault(rule, []).append(change)
        return dict(sorted(out.items(), key=lambda kv: (kv[0] == "", -len(kv[1]), kv[0])))

    def to_json(self) -> dict:
        kb = {k: self.knowledge_base.get(k) for k in ("version", "fingerprint", "rules")}
        return {"schema": SCHEMA, "replayed": self.total, "changed": len(self.changes),
                "knowledge_base": kb,
                "groups": [{"rule": rule or None, "change": self.rule_changes.get(rule),
                            "records": [c.id for c in items]} for rule, items in self.groups().items()],
                "records": [c.to_json() for c in self.changes],
                "errors": [{"id": rid, "error": what} for rid, what in self.errors]}


def _memo_key(record: dict) -> str:
    facts = sorted((f.get("type"), json.dumps(f.get("fields"), sort_keys=True), f.get("origin"))
                   for f in record.get("facts") or [] if isinstance(f, dict)
                   and str(f.get("origin", "")).startswith("profile:"))
    kb = record.get("knowledge_base") or {}
    return json.dumps([kb.get("fingerprint"), kb.get("rule_hashes"), facts], sort_keys=True, default=str)


def _replay_one(advisor, memo: dict, rid: int, record: dict) -> tuple:
    """(id, outcome or None, rule changes, error) for one stored record."""
    from haircare_expert.audit.replay import replay
    key = _memo_key(record)
    hit = memo.get(key)
    if hit is None:
        try:
            result = replay(record, advisor, where=f"record {rid}")
        except HaircareError as exc:
            hit = ("error", exc.what)
        else:
            rules = {r: result.rule_change(r)
                     for r in result.rules_edited + result.rules_added + result.rules_removed}
            if result.changed:
                causes = sorted({r for a in result.advice for r in a.caused_by})
                counts = {k: sum(1 for a in result.advice if a.change == k)
                          for k in ("added", "removed", "changed")}
                hit = ("changed", causes, counts, [p.part for p in result.parts], rules)
            else:
                hit = ("same", rules)
        memo[key] = hit
    return (rid, hit)


def _init_worker(rules_dirs: tuple, advisor=None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is the parent's to handle
    _WORKER.clear()
    _WORKER["memo"] = {}
    try:
        if advisor is None:
            from haircare_expert.consult.advisor import Advisor
            advisor = Advisor(extra_rules=rules_dirs)
        _WORKER["advisor"] = advisor
    except HaircareError as exc:
        _WORKER["error"] = (type(exc), exc.where, exc.what)


def _work(chunk: list[tuple[int, dict]]) -> tuple[list[tuple], tuple | None]:
    if "error" in _WORKER:
        return [], _WORKER["error"]
    return [_replay_one(_WORKER["advisor"], _WORKER["memo"], rid, rec) for rid, rec in chunk], None


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    while chunk := list(islice(items, size)):
        yield chunk


def replay_all(store, advisor, *, jobs: int = 1, rules_dirs=(), scheduler=None,
               progress: Callable[[int, int], None] | None = None) -> StoreReplay:
    """Replay every finished consultation of ``store`` through ``advisor``'s rules.

    ``progress(done, total)`` is called as records are replayed. With ``scheduler`` (a Dask
    scheduler address or client) the records are replayed on that cluster, partition by
    partition, each worker compiling the rules once; the result is the same as a local run.
    """
    total = store.count(finished=True)
    result = StoreReplay(knowledge_base=dict(advisor.rulebook.summary()))
    names: dict[int, tuple[str, str]] = {}

    def records() -> Iterator[tuple[int, dict]]:
        for rec in store.iter_finished():
            names[rec.id] = (rec.client, rec.date)
            yield rec.id, rec.record

    def take(outcomes) -> None:
        for rid, hit in outcomes:
            result.total += 1
            client, date = names.pop(rid, ("", ""))
            if hit[0] == "error":
                result.errors.append((rid, hit[1]))
                continue
            result.rule_changes.update(hit[-1])
            if hit[0] == "changed":
                _, causes, counts, parts, _ = hit
                result.changes.append(RecordChange(rid, client, date, list(causes), other=list(parts),
                                                   **counts))
        if progress:
            progress(result.total, total)

    if scheduler is not None:
        _on_cluster(scheduler, advisor, rules_dirs, records(), take)
    elif jobs <= 1:
        memo: dict = {}
        for chunk in _chunks(records(), _CHUNK):
            take([_replay_one(advisor, memo, rid, rec) for rid, rec in chunk])
    else:
        _parallel(store, advisor, rules_dirs, jobs, records(), take)
    result.changes.sort(key=lambda c: c.id)
    result.errors.sort()
    return result


def _parallel(store, advisor, rules_dirs, jobs: int, records, take) -> None:
    if "fork" in multiprocessing.get_all_start_methods():
        # forked workers inherit the compiled advisor; they must not share the parent's
        # database connections, so the pool is emptied first (the parent reconnects)
        store.engine.dispose()
        context, initargs = multiprocessing.get_context("fork"), (tuple(rules_dirs), advisor)
    else:
        context, initargs = None, (tuple(rules_dirs), None)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                             initargs=initargs) as pool:
        pending: deque = deque()
        try:
            for chunk in _chunks(records, _CHUNK):
                pending.append(pool.submit(_work, chunk))
                if len(pending) >= jobs * 3:
                    _collect(pending.popleft(), take)
            while pending:
                _collect(pending.popleft(), take)
        finally:
            for future in pending:
                future.cancel()


def _on_cluster(scheduler, advisor, rules_dirs, records, take) -> None:
    from pathlib import Path

    from haircare_expert.consult.distributed import map_partitions
    folders = tuple(str(Path(folder).resolve()) for folder in rules_dirs)  # a worker's cwd may differ
    for outcomes, error in map_partitions(scheduler, _replay_partition, _chunks(records, _CHUNK),
                                          folders, advisor.rulebook.fingerprint):
        _collect_result(outcomes, error, take)


def _replay_partition(chunk: list[tuple[int, dict]], rules_dirs: tuple, fingerprint: str):
    """On a Dask worker: the outcomes of one partition, or the error as data."""
    from haircare_expert.consult.distributed import worker_state
    from haircare_expert.errors import NotFoundError

    def build():
        from haircare_expert.consult.advisor import Advisor
        return Advisor(extra_rules=rules_dirs), {}

    try:
        with worker_state(("replay", rules_dirs), build) as (advisor, memo):
            if advisor.rulebook.fingerprint != fingerprint:
                raise NotFoundError(", ".join(rules_dirs) or "rules",
                                    "the rules on this Dask worker differ from the client's")
            return [_replay_one(advisor, memo, rid, rec) for rid, rec in chunk], None
    except HaircareError as exc:
        return [], (type(exc), exc.where, exc.what)


def _collect(future, take) -> None:
    _collect_result(*future.result(), take)


def _collect_result(outcomes, error, take) -> None:
    if error is not None:
        cls, where, what = error
        raise cls(where, what)
    take(outcomes)


def render_text(result: StoreReplay, limit: int = 20) -> str:
    """The replay of the store in words: which consultations change, grouped by rule edit."""
    kb = result.knowledge_base
    lines = [f"Replayed {result.total} stored consultation(s) against the current rules "
             f"(knowledge base {kb.get('version', '?')}, {kb.get('rules', '?')} rules)."]
    if not result.changes:
        lines.append("No consultation would get different advice.")
    else:
        lines.append(f"{len(result.changes)} consultation(s) would now get different advice.")
    for rule, items in result.groups().items():
        lines.append("")
        if rule:
            lines.append(f"Rule {rule} ({result.rule_changes.get(rule, 'edited')}): "
                         f"{len(items)} consultation(s)")
        else:
            lines.append(f"No changed rule in their derivation: {len(items)} consultation(s)")
        for change in items[:limit]:
            parts = [f"{n} {k}" for k, n in (("added", change.added), ("removed", change.removed),
                                               ("changed", change.changed)) if n]
            if change.other:
                parts.append("also " + ", ".join(change.other))
            name = " ".join(change.client.split()) or "(no name)"
            lines.append(f"  #{change.id} {name} {change.date or ''}".rstrip() + f": {'; '.join(parts)}")
        if len(items) > limit:
            lines.append(f"  ... and {len(items) - limit} more")
    if result.errors:
        lines.append("")
        lines.append(f"Could not replay {len(result.errors)} consultation(s):")
        for rid, what in result.errors[:limit]:
            lines.append(f"  #{rid}: {what}")
    return "\n".join(lines) + "\n"
