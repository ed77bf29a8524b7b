"""The consultant's desk: consultations in the records store, driven by the interview library.

Every screen of the web app goes through :class:`Desk`: it loads a record, rebuilds the
:class:`~haircare_expert.consult.interview.Interview` from the stored session, lets the view
apply one step (an answer, back, an edit) and commits the session to the store at once. All the
interview, plan and report logic is the library's; this module only moves state in and out of
the store. The advisor's engine is not thread-safe, so one lock serialises the work on it.
"""
from __future__ import annotations

import datetime as _dt
import threading
from collections import OrderedDict
from dataclasses import dataclass

from haircare_expert.consult import followup
from haircare_expert.consult import interview as iv
from haircare_expert.errors import ProfileError
from haircare_expert.knowledge.questions import PRODUCTS_KEY
from haircare_expert.model import Consultation

#: How many interviews (one per record version) are kept built between requests.
CACHE_SIZE = 32


@dataclass
class Visit:
    """One consultation as a screen sees it: the stored record and the live interview."""

    record: object            #: haircare_expert.store.Record
    talk: iv.Interview

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def finished(self) -> bool:
        return bool(self.record.finished)


@dataclass(frozen=True)
class Change:
    """What one answer did to the advice: titles added and removed."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


class Desk:
    """Consultations in progress and finished, over one store and one compiled knowledge base."""

    def __init__(self, store, advisor, rules_dirs: tuple = ()):
        self.store = store
        self.advisor = advisor
        self.rules_dirs = tuple(rules_dirs)
        self.lock = threading.RLock()
        self.book = iv.QuestionBook.load(advisor.vocabulary)
        self._cache: OrderedDict[tuple[int, int], iv.Interview] = OrderedDict()
        self._given: dict[tuple[int, int], Consultation] = {}

    # -- records -----------------------------------------------------------------------------------
    def start(self, client: str, consultant: str, date: str) -> Visit:
        """A new consultation with the client's details answered (ProfileError if one is bad)."""
        values = {"client.name": client, "client.consultant": consultant, "client.date": date}
        parsed = {key: iv.parse_answer(self.book.by_ask[key], text, key) for key, text in values.items()}
        if not parsed["client.name"]:
            raise ProfileError("client name", "please give the client's name, so the record can be found again")
        with self.lock:
            talk = iv.Interview(self.advisor, iv.Session(), self.book)
            for key, value in parsed.items():
                talk.preset(key, value)
            record = self.store.start(client=parsed["client.name"], consultant=parsed["client.consultant"],
                                      date=parsed["client.date"], rules_dirs=self.rules_dirs,
                                      targets={"save": None, "output": None}, follows=None,
                                      session=talk.session.to_data())
            if parsed["client.consultant"]:     # remembered for the next client, as the terminal does
                self.store.set_setting("consultant", parsed["client.consultant"])
            self._remember(record, talk)
            return Visit(record, talk)

    def follow_up(self, client: str, consultant: str, date: str) -> Visit:
        """A follow-up visit: a new consultation from the client's last finished one, its answered
        sections waiting to be confirmed or changed (ProfileError if the client has none)."""
        with self.lock:
            previous = followup.last_visit(self.store, client)
            talk = iv.Interview(self.advisor, followup.seeded_session(previous, self.advisor.vocabulary),
                                self.book)
            talk.preset("client.date", date)
            if consultant:
                talk.preset("client.consultant", consultant)
            # the sections still to confirm live in the record's targets, as the terminal keeps
            # them: a restart (or `haircare interview --resume ID`) goes on where the review was
            review = [name for name, _ in talk.review_sections()]
            record = self.store.start(client=previous.client, consultant=consultant, date=date,
                                      rules_dirs=self.rules_dirs,
                                      targets={"save": None, "output": None, "review": review},
                                      follows=previous.id, session=talk.session.to_data())
            self._remember(record, talk)
            return Visit(record, talk)

    def to_review(self, visit: Visit) -> list[tuple[str, list[str]]]:
        """A follow-up's sections not yet confirmed or changed: (name, lines in words)."""
        waiting = list((visit.record.targets or {}).get("review") or [])
        if visit.finished or not waiting:
            return []
        sections = dict(visit.talk.review_sections())
        return [(name, sections.get(name, [])) for name in waiting]

    def confirm(self, visit: Visit, section: str, change: bool) -> Visit:
        """Keep a follow-up's section as it was, or forget its answers so the questions that can
        change the advice are asked again; a section not waiting any more changes nothing."""
        with self.lock:
            targets = dict(visit.record.targets or {})
            waiting = list(targets.get("review") or [])
            if section not in waiting:
                return visit
            if change:
                visit.talk.change_section(section)
            waiting.remove(section)
            targets["review"] = waiting
            self._cache.pop((visit.record.id, visit.record.version), None)
            record = self.store.save_answers(visit.record.id, visit.talk.session.to_data(),
                                             version=visit.record.version, targets=targets)
            self._remember(record, visit.talk)
            return Visit(record, visit.talk)

    def consultant(self) -> str:
        """The consultant's name last used here or at the terminal."""
        with self.lock:
            return self.store.setting("consultant")

    def open(self, record_id: int) -> Visit:
        """The consultation ``record_id`` with its interview rebuilt (NotFoundError if absent)."""
        with self.lock:
            record = self.store.get(record_id)
            talk = self._cache.get((record.id, record.version))
            if talk is None:
                session = iv.Session.from_data(record.session, f"record {record.id}", self.advisor.vocabulary)
                talk = iv.Interview(self.advisor, session, self.book)
            else:
                self._cache.move_to_end((record.id, record.version))
            return Visit(record, talk)

    def save(self, visit: Visit) -> Visit:
        """Commit the interview state at once (StoreConflictError if it changed elsewhere)."""
        with self.lock:
            self._cache.pop((visit.record.id, visit.record.version), None)
            record = self.store.save_answers(visit.record.id, visit.talk.session.to_data(),
                                             version=visit.record.version)
            self._remember(record, visit.talk)
            return Visit(record, visit.talk)

    def finish(self, visit: Visit) -> Visit:
        """Store the finished consultation: its JSON audit record, plan and knowledge base."""
        with self.lock:
            visit.talk.session.finished = True
            self._cache.pop((visit.record.id, visit.record.version), None)
            consultation = visit.talk.consultation()
            # a follow-up: "since your last visit", and the plan goes on from the last one
            followup.since_last_visit(consultation, followup.followed(self.store, visit.record), self.book)
            record = self.store.finish(visit.record.id, visit.talk.session.to_data(),
                                       consultation, version=visit.record.version)
            self._remember(record, visit.talk)
            return Visit(record, visit.talk)

    def _remember(self, record, talk: iv.Interview) -> None:
        self._cache[(record.id, record.version)] = talk
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def unfinished(self) -> list:
        with self.lock:
            return self.store.list(unfinished=True)

    def search(self, text: str) -> list:
        """The records of every client whose name contains ``text``, newest first."""
        with self.lock:
            records = []
            for name in self.store.search_clients(text):
                records.extend(self.store.list(client=name))
            records.sort(key=lambda r: (r.updated, r.id), reverse=True)
            return records

    # -- steps -------------------------------------------------------------------------------------
    def consultation(self, visit: Visit) -> Consultation:
        """The advice: for a finished consultation as it was given (rebuilt from its stored audit
        record, whatever the rules say today), else as the answers so far give it."""
        with self.lock:
            if visit.finished and visit.record.record:
                key = (visit.record.id, visit.record.version)
                if key not in self._given:
                    from haircare_expert.store.rebuild import consultation_of
                    given = consultation_of(visit.record.record, self.advisor.rulebook,
                                            f"record {visit.record.id}")
                    followup.since_last_visit(given, followup.followed(self.store, visit.record), self.book)
                    self._given[key] = given
                    while len(self._given) > CACHE_SIZE:
                        self._given.pop(next(iter(self._given)))
                return self._given[key]
            return visit.talk.consultation()

    def answer(self, visit: Visit, key: str, text: str, revise: str | None = None) -> tuple[Visit, iv.Reply, Change]:
        """Answer the current question (whose key the screen showed); a bad answer changes nothing."""
        with self.lock:
            self.revising(visit, revise)
            slot = visit.talk.current()
            if slot is None or slot.key != key:
                return visit, iv.Reply("moved"), Change()
            before = visit.talk.consultation()
            reply = visit.talk.handle(text)
            if reply.kind != "answered":
                return visit, reply, Change()
            visit = self.save(visit)
            return visit, reply, changes(before, visit.talk.consultation())

    def back(self, visit: Visit) -> tuple[Visit, iv.Reply]:
        with self.lock:
            reply = visit.talk.back()
            if reply.changed:
                visit = self.save(visit)
            return visit, reply

    def edit(self, visit: Visit, key: str, text: str) -> tuple[Visit, Change]:
        """Change one answer from the review screen; ProfileError (in words) if it is bad."""
        with self.lock:
            slot = self.slot(visit, key)
            value = iv.parse_answer(slot.question, text, key)
            before = visit.talk.consultation()
            session = visit.talk.session
            old = session.answers.get(key)
            session.answer(key, value)
            if key == PRODUCTS_KEY:
                _keep_entries(session, old, value)
            # a fresh interview over the edited answers: the advice and the open questions are
            # recomputed from them, as after any answer
            visit.talk = iv.Interview(self.advisor, session, self.book)
            session.finished = visit.talk.finished
            visit = self.save(visit)
            return visit, changes(before, visit.talk.consultation())

    def slot(self, visit: Visit, key: str) -> iv.Slot:
        """The question behind ``key`` in this consultation (NotFoundError if there is none)."""
        for slot in visit.talk.book.slots(visit.talk.session.answers):
            if slot.key == key:
                return slot
        from haircare_expert.errors import NotFoundError
        raise NotFoundError(key, "no such question in this consultation")

    @staticmethod
    def revising(visit: Visit, key: str | None) -> None:
        """Ask ``key`` again next (after Back; the key travels in the page's address, so a reload
        or a restart keeps it)."""
        if key:
            visit.talk.revise(key)


def changes(before: Consultation, after: Consultation) -> Change:
    """The advice titles an answer added and removed (notes left out, as the terminal does)."""
    old = {(a.rule, a.text): a.title for a in before.advice if a.kind != "note"}
    new = {(a.rule, a.text): a.title for a in after.advice if a.kind != "note"}
    added = tuple(dict.fromkeys(t for k, t in new.items() if k not in old))
    removed = tuple(dict.fromkeys(t for k, t in old.items() if k not in new))
    return Change(added, removed)


def _keep_entries(session: iv.Session, old, new) -> None:
    """After the products in use changed from ``old`` to ``new``: keep the answers about each
    product still in use (moved to its new place in the list, after the products answer), drop
    the rest."""
    old = old if isinstance(old, tuple) else ()
    new = new if isinstance(new, tuple) else ()
    moved = {}
    for key in [k for k in session.answers if k.startswith("routine[")]:
        index, _, field = key[len("routine["):].partition("].")
        value = session.answers.pop(key)
        position = session.history.index(key) if key in session.history else len(session.history)
        if key in session.history:
            session.history.remove(key)
        product = old[int(index)] if int(index) < len(old) else None
        if product in new:
            moved[f"routine[{new.index(product)}].{field}"] = (position, value)
    for key, (_, value) in sorted(moved.items(), key=lambda item: item[1][0]):
        session.answers[key] = value
        session.history.append(key)


def today() -> str:
    return _dt.date.today().isoformat()
