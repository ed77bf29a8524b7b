"""A consultation in progress: the answers, the advice they give, what to ask next."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from haircare_expert.consult.advisor import assemble, render_text
from haircare_expert.consult.interview.answers import command_of, hint, parse_answer
from haircare_expert.consult.interview.planner import Plan, Planner
from haircare_expert.consult.interview.session import Session
from haircare_expert.errors import ProfileError
from haircare_expert.knowledge.conditions import Var
from haircare_expert.knowledge.questions import (
    _PLACEHOLDER_RE,
    PRODUCTS_KEY,
    QuestionBook,
    Slot,
    words,
)
from haircare_expert.knowledge.rulebook import Rule
from haircare_expert.model import ADVICE_KINDS, Consultation

#: Lone surrogates cannot be written as UTF-8: typed text holding one is refused.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


# -- the interview ---------------------------------------------------------------------------------
@dataclass
class Reply:
    """What the interview says back to one line typed by the consultant."""

    kind: str                                   #: answered | why | back | quit | bad | finished
    lines: list[str] = field(default_factory=list)
    changed: bool = False                       #: the answers changed: save the session now
    new_advice: list[str] = field(default_factory=list)
    #: titles of advice the answer took back ("- no longer advised: ...")
    withdrawn: list[str] = field(default_factory=list)


#: Typed instead of an answer to stop (besides ``quit``): what people type to leave a prompt.
QUIT_WORDS = ("quit", "exit", "q")
#: The follow-up review's sections, in order: (name, heading); ``routine`` is the products.
SECTIONS = (("scalp", "Scalp"), ("hair", "Hair"), ("goals", "Goals"), ("habits", "Habits"),
            (PRODUCTS_KEY, "Products in use"))


class Interview:
    """A consultation in progress: the answers, the advice they give, and what to ask next."""

    def __init__(self, advisor, session: Session | None = None, questions: QuestionBook | None = None):
        self.advisor = advisor
        self.book = questions or QuestionBook.load(advisor.vocabulary)
        self.planner = Planner(advisor.rulebook, self.book)
        self.session = session or Session()
        self._run: tuple | None = None      # (client, facts, firings) of the engine's last run
        self._consultation: Consultation | None = None
        self._plan: Plan | None = None
        self._titles: dict | None = None    # advice_titles() of the engine's last run
        self._revise: str | None = None     # the key `back` took away: asked again next

    # -- state -----------------------------------------------------------------------------------
    def consultation(self) -> Consultation:
        """The advice for the answers so far, recomputed from them (never patched)."""
        if self._consultation is None:
            client, facts, trace = self.run()
            self._consultation = assemble(self.advisor.rulebook, client, facts, trace)
        return self._consultation

    def run(self) -> tuple[dict, list, list]:
        """(client, facts, firings) of the engine's run over the answers so far: what the planner
        and the advice an answer changes need; the rest of :meth:`consultation` waits until
        something shows it."""
        if self._run is None:
            client, facts = self.advisor.vocabulary.profile_facts(self.session.profile(), "interview answers")
            self._run = (client, *self.advisor.engine.run(facts))
        return self._run

    def plan(self) -> Plan:
        if self._plan is None:
            _, facts, trace = self.run()
            self._plan = self.planner.plan_run(self.session, facts, trace)
        return self._plan

    @property
    def revising(self) -> str | None:
        """The question ``back`` took away, asked again next (None when there is none)."""
        return self._revise

    def revise(self, key: str) -> None:
        """Ask ``key`` again next, as after ``back``: for a shell that keeps the key elsewhere
        (the web keeps it in the page's address). A key answered meanwhile is left alone."""
        if key not in self.session.answers and self._revise != key:
            self._revise = key
            self._changed()

    def current(self) -> Slot | None:
        """The question to ask now (None when nothing left can change the advice)."""
        if self._revise and self._revise not in self.session.answers:
            for slot in self.book.slots(self.session.answers):
                if slot.key == self._revise:
                    return slot
        return self.plan().next

    @property
    def finished(self) -> bool:
        return self.current() is None

    def preset(self, key: str, value: Any, replace: bool = False) -> None:
        """Record an answer given on the command line (``--date``) if it is not answered yet
        (or, with ``replace``, whatever was answered before)."""
        if replace or key not in self.session.answers:
            self.session.answer(key, value)
            self.session.preset.append(key)
            self._changed()

    def _changed(self) -> None:
        self._run = None
        self._consultation = None
        self._plan = None
        self._titles = None

    # -- talking -----------------------------------------------------------------------------------
    def progress(self) -> str:
        plan = self.plan()
        number = sum(1 for key in self.session.history if key not in self.session.preset) + 1
        # the open questions, the ones they may unlock, and a guess for products not yet named
        left = len(plan.pending) - 1 + plan.per_product + len(set(plan.needed_for.values()))
        if left <= 0:
            return f"Question {number}, probably the last"
        return f"Question {number}, about {left} left"

    def question_lines(self) -> list[str]:
        """The current question as printed: progress, the question, its choices, a hint."""
        slot = self.current()
        if slot is None:
            return []
        q = slot.question
        heading = self.progress()
        if slot.entry is not None:
            count = len(self.session.answers.get(PRODUCTS_KEY) or ())
            heading += f" - product {slot.entry + 1} of {count}: {self.book.product_words(slot.product)}"
        if q.kind not in ("choice", "set"):
            return [heading, f"{slot.text(self.book)}  ({hint(q)})"]
        lines = [heading, slot.text(self.book)]
        width = len(str(len(q.choices)))
        for index, (_, label) in enumerate(q.choices, 1):
            lines.append(f"  {index:>{width}}. {label}")
        lines.append(f"  ({hint(q)})")
        return lines

    def handle(self, text: str) -> Reply:
        """Interpret one line typed at the current question."""
        slot = self.current()
        if slot is None:
            return Reply("finished", ["The interview is complete."])
        if "\ufffd" in text or _SURROGATE_RE.search(text):
            # a byte that is not UTF-8 (stdin decodes with errors="replace"): never store it
            return Reply("bad", ["Sorry, that answer has a character that could not be read; "
                                 "please type it again."])
        command = command_of(text)
        if command == "quit" or text.strip().lower() in QUIT_WORDS:
            return Reply("quit")
        if command == "why":
            return Reply("why", self.why(slot))
        if command == "back":
            return self.back()
        try:
            value = parse_answer(slot.question, text, slot.key)
        except ProfileError as exc:
            return Reply("bad", [f"Sorry, {exc.what}."])
        before = self.advice_titles()
        self.session.answer(slot.key, value)
        self._revise = None
        self._changed()
        self.session.finished = self.finished
        after = self.advice_titles()
        new = [title for key, title in after.items() if key not in before]
        # a line whose text only changed is not withdrawn: its rule still advises
        still = {rule for rule, _ in after}
        gone = list(dict.fromkeys(title for (rule, _), title in before.items() if rule not in still))
        return Reply("answered", changed=True, new_advice=new, withdrawn=gone)

    def advice_titles(self) -> dict[tuple[str, str], str]:
        """(rule, text) -> title of each line of advice but the notes, in the consultation's
        order, worked out from the firings alone (as :func:`assemble` lists the advice); kept
        until the answers change (an answer compares the titles before it with those after)."""
        if self._titles is None:
            self._titles = self._advice_titles()
        return dict(self._titles)

    def _advice_titles(self) -> dict[tuple[str, str], str]:
        if self._consultation is not None:
            return {(a.rule, a.text): a.title for a in self._consultation.advice if a.kind != "note"}
        by_id = self.advisor.rulebook.by_id
        lines: dict[tuple[str, str], tuple] = {}
        for firing in self.run()[2]:
            rule = by_id[firing.rule]
            if rule.kind in ADVICE_KINDS and rule.kind != "note":
                key = (rule.id, render_text(rule, rule.advise, firing.bindings))
                if key not in lines:
                    lines[key] = (ADVICE_KINDS.index(rule.kind), -rule.salience, rule.id, firing.seq, rule.title)
        return {key: rank[-1] for key, rank in sorted(lines.items(), key=lambda item: item[1][:4])}

    # -- a follow-up visit: review the last visit's answers section by section -------------------
    def review_sections(self) -> list[tuple[str, list[str]]]:
        """The answered sections as (name, lines in words) for a follow-up's review."""
        answers = self.session.answers
        out = []
        for name, heading in SECTIONS:
            keys = self._section_keys(name)
            if not keys:
                continue
            lines = [f"{heading}:"]
            for slot in self.book.slots(answers):
                q = slot.question
                if slot.key not in keys or q.per_entry:
                    continue
                lines.append(f"  {q.label}: {words(answers[slot.key])}")
                if q.creates_entries and isinstance(answers[slot.key], tuple):
                    for index, product in enumerate(answers[slot.key]):
                        parts = [f"{s.question.label}: {words(answers[s.key])}"
                                 for s in self.book.slots(answers) if s.entry == index and s.key in answers]
                        lines.append(f"    {self.book.product_words(product)}"
                                     + (": " + "; ".join(parts) if parts else ""))
            out.append((name, lines))
        return out

    def _section_keys(self, name: str) -> list[str]:
        if name == PRODUCTS_KEY:
            return [k for k in self.session.answers if k == PRODUCTS_KEY or k.startswith("routine[")]
        return [k for k in self.session.answers if k == name or k.startswith(name + ".")]

    def change_section(self, name: str) -> list[str]:
        """Forget a section's answers so the questions that can change the advice are asked again."""
        keys = self._section_keys(name)
        for key in keys:
            self.session.answers.pop(key, None)
            if key in self.session.history:
                self.session.history.remove(key)
        self.session.finished = False
        self._changed()
        return keys

    def back(self) -> Reply:
        key = self.session.undo()
        if key is None:
            return Reply("bad", ["Nothing to go back to: this is the first question."])
        self._revise = key
        self._changed()
        slot = self.current()
        label = key
        if slot is not None and slot.key == key:
            label = slot.question.label + (f" ({self.book.product_words(slot.product)})" if slot.product else "")
        return Reply("back", [f"Going back to revise: {label}."], changed=True)

    def why(self, slot: Slot | None = None) -> list[str]:
        """Why a question is asked, in words: its help, and the rules waiting on its answer."""
        slot = slot or self.current()
        if slot is None:
            return []
        plan = self.plan()
        lines = []
        if slot.question.help:
            lines.append(slot.question.help)
        if slot.question.fact_type == "client":
            lines.append("The client's details only go on the report; they do not change the advice.")
            return lines
        via = plan.needed_for.get(slot.key)
        if via:
            other = next((s for s in self.book.slots(self.session.answers) if s.key == via), None)
            if other is not None:
                lines.append(f"The answer decides whether to ask: {other.text(self.book)}")
        rules = plan.waiting.get(slot.key, [])
        if not rules:
            lines.append("No rule waits on this answer any more.")
            return lines
        lines.append("The answer can still change the advice. Rules waiting on it:")
        shown = rules[:6]
        for rid in shown:
            lines.append("  - " + describe_rule(self.advisor.rulebook.by_id[rid]))
        if len(rules) > len(shown):
            lines.append(f"  ... and {len(rules) - len(shown)} more")
        return lines

    def summary_lines(self) -> list[str]:
        """The answers given, in question order, for the end of the interview."""
        answers = self.session.answers
        lines = ["Answers:"]
        width = max(len(q.label) for q in self.book.questions if not q.per_entry) + 1
        skipped = []
        for slot in self.book.slots(answers):
            q = slot.question
            if q.per_entry:
                continue
            if slot.key in answers:
                lines.append(f"  {q.label + ':':<{width}} {words(answers[slot.key])}")
                if q.creates_entries and isinstance(answers[slot.key], tuple):
                    for index, product in enumerate(answers[slot.key]):
                        parts = [f"{s.question.label}: {words(answers[s.key])}"
                                 for s in self.book.slots(answers)
                                 if s.entry == index and s.key in answers]
                        lines.append(f"    {self.book.product_words(product)}: "
                                     + ("; ".join(parts) if parts else "no further questions needed"))
            elif q.fact_type != "client":
                skipped.append(q.label)
        if skipped:
            lines.append("  Not asked (no rule needed them for this client): " + ", ".join(skipped))
        return lines


def describe_rule(rule: Rule) -> str:
    """A rule in one line for ``why``: title, kind, and what it would advise or conclude."""
    kind = {"derive": "finding"}.get(rule.kind, rule.kind)
    if rule.advise:
        text = _PLACEHOLDER_RE.sub("...", rule.advise)
        first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
        what = f'would advise: "{first}"'
    elif rule.declare:
        parts = []
        for decl in rule.declare:
            values = " ".join("..." if isinstance(v, Var) else words(v) for _, v in decl.fields)
            parts.append(f"{words(decl.type)}: {values}")
        what = "would conclude " + "; ".join(parts)
    else:
        what = "would add to the plan"
    return f"{rule.title} ({kind}) - {what}"
