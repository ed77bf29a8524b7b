"""The plan stage: from every rule that fired to a plan a consultant would hand over.

Between inference and reporting. It reads the rules that fired and the facts, and applies the
plan policy (``facts/plan.yaml``, KNOWLEDGE section I) to build the client's steps in order:
stop and pause what must stop, fix how she uses what she has, keep what works, then add new
products a few at a time (at most two a week; one new leave-on scalp product at a time on a
reactive scalp, each after a patch test), the rest from a later week "if nothing has reacted".

It also decides what the first week holds: the weekly calendar shows only the schedule entries
of products in use or starting in week 1, and the wash-day order marks the steps of products
that start later with their week. Nothing here is advice text of its own beyond the policy's
``words``; every step cites the rule it comes from.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from haircare_expert import yamlio
from haircare_expert.errors import RuleError
from haircare_expert.knowledge.rulebook import Rule, Rulebook, ScheduleEntry
from haircare_expert.model import ADVICE_KINDS, UNKNOWN, Fact, Firing, PlanStep

ACTION_TAGS = ("stop", "pause", "change", "keep")
#: Reactions that show the scalp (not only the hair) reacted to a product.
SCALP_REACTIONS = ("rash", "itching", "redness", "shedding")


@dataclass(frozen=True)
class Policy:
    """The plan policy, as loaded from ``facts/plan.yaml``."""

    data: dict

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    @property
    def new_per_week(self) -> int:
        return int(self.data["limits"]["new_per_week"])

    @property
    def scalp_per_week(self) -> int:
        return int(self.data["limits"]["leave_on_scalp_per_week_when_reactive"])

    @property
    def gap(self) -> int:
        return int(self.data["limits"]["weeks_between_starts"])

    def rank(self, needs: set[str] | frozenset, product: str) -> tuple:
        need_order = self.data["rank"]["needs"]
        products = self.data["rank"]["products"]
        need_rank = min((need_order.index(n) for n in needs if n in need_order), default=len(need_order))
        return (need_rank, products.index(product) if product in products else len(products), product)


@lru_cache(maxsize=1)
def load_policy() -> Policy:
    """The plan policy shipped in ``facts/plan.yaml``."""
    ref = yamlio.package_files("facts") / "plan.yaml"
    where = "facts/plan.yaml"
    data = yamlio.loads(ref.read_text(encoding="utf-8"), where, RuleError)
    missing = [k for k in ("limits", "reactive", "leave_on_scalp", "scalp_products", "practices",
                           "patch_test_always", "no_new_products_with", "one_per_need", "rank",
                           "action_order", "patch_test_rule", "words") if k not in (data or {})]
    if missing:
        raise RuleError(where, f"the plan policy lacks {', '.join(missing)}")
    return Policy(data)


@dataclass
class PlanResult:
    """The plan, and what of the rules' calendar and wash-day order belongs in week 1."""

    steps: list[PlanStep]
    week_entries: list[ScheduleEntry]
    wash_steps: dict[str, int]
    #: product -> start week of every product the plan adds (for the calendar and the reports)
    starts: dict[str, int] = field(default_factory=dict)
    #: products the plan holds back entirely (one per need, red flag, unanswered questions)
    held: set[str] = field(default_factory=set)
    #: heat days a week for the calendar: hers, or fewer when the advice cuts heat styling
    heat_days: Any = None


@dataclass
class _Step:
    action: str
    product: str | None
    rule: Rule
    item: str
    why: str
    new: bool = False
    start_week: int = 1
    rank: tuple = ()


def rule_product(rule: Rule) -> str | None:
    """The product a rule is about: the one it recommends, else its ``product:`` tag."""
    for decl in rule.declare:
        if decl.type == "recommend":
            value = dict(decl.fields).get("product")
            if isinstance(value, str):
                return value
    for tag in rule.tags:
        if tag.startswith("product:"):
            return tag.split(":", 1)[1]
    return None


def rule_action(rule: Rule) -> str | None:
    for tag in rule.tags:
        if tag.startswith("plan:") and tag[5:] in ACTION_TAGS:
            return tag[5:]
    return None


class _Client:
    """What the plan needs to know about the client, read once from the facts."""

    def __init__(self, facts: list[Fact]):
        self.facts = {f.id: f for f in facts}
        self.used: dict[str, list[Fact]] = {}
        self.reacted: set[str] = set()
        self.states: set[str] = set()
        self.needs: set[str] = set()
        self.red_flags: set[str] = set()
        self.unanswered = True
        self.habits: dict = {}
        for f in facts:
            if f.type == "uses":
                self.used.setdefault(f.fields["product"], []).append(f)
                reactions = f.fields.get("reactions")
                if isinstance(reactions, tuple) and set(reactions) & set(SCALP_REACTIONS):
                    self.reacted.add(f.fields["product"])
            elif f.type == "scalp-state":
                self.states.add(f.fields["state"])
            elif f.type == "need":
                self.needs.add(f.fields["name"])
            elif f.type == "red-flag":
                self.red_flags.add(f.fields["reason"])
            elif f.type == "habits":
                self.habits = dict(f.fields)
            elif f.type == "scalp":
                self.unanswered = f.fields.get("symptoms", UNKNOWN) == UNKNOWN
        if any(f.fields.get("reactions") == UNKNOWN for fs in self.used.values() for f in fs):
            self.unanswered = True

    def reactive(self, policy: Policy) -> bool:
        return bool(self.states & set(policy["reactive"]["scalp_states"])
                    or self.red_flags & set(policy["reactive"]["red_flags"]))


def build(rulebook: Rulebook, facts: list[Fact], trace: list[Firing],
          policy: Policy | None = None) -> PlanResult:
    """The client's plan from the facts and firings of one run."""
    policy = policy or load_policy()
    vocab = rulebook.vocabulary
    client = _Client(facts)
    words = policy["words"]
    practices = set(policy["practices"])

    def label(product: str | None) -> str:
        return vocab.label("product", product) if product else ""

    # what each product's schedule entries say about how often (for the step's item)
    entries_of: dict[str, list[ScheduleEntry]] = {}
    for firing in trace:
        rule = rulebook.by_id[firing.rule]
        product = rule_product(rule)
        if product and rule.schedule:
            entries_of.setdefault(product, [])
            entries_of[product].extend(e for e in rule.schedule if e not in entries_of[product])

    def how_often(product: str | None) -> str:
        entries = [e for e in entries_of.get(product or "", []) if not e.replaces]
        if not entries:
            return ""
        e = entries[0]
        freq = words["frequency"]
        if e.days in ("daily", "heat"):
            return freq[e.days]
        low, high = e.per_week
        if e.days == "wash" and high >= 7:
            return freq["every_wash"]
        count = "once a week" if (low, high) == (1, 1) else (
            f"{low} times a week" if low == high else f"{low} to {high} times a week")
        return f", {count}{freq.get(e.days, '')}"

    steps: dict[tuple, _Step] = {}
    adds: dict[str, _Step] = {}
    for firing in trace:
        rule = rulebook.by_id[firing.rule]
        if rule.kind not in ADVICE_KINDS and not rule.declare:
            continue
        action = rule_action(rule)
        if action:
            product = _step_product(rule, firing, client, vocab)
            key = (action, product, rule.id)
            if key not in steps:
                steps[key] = _Step(action, product, rule, _item(action, product, rule, words, label,
                                                                 how_often), rule.because.strip())
        for fid in firing.declared:
            fact = client.facts.get(fid)
            if fact is None or fact.type != "recommend":
                continue
            product = fact.fields["product"]
            if product in adds or product in client.reacted:
                continue
            needs = {client.facts[m].fields["name"] for m in firing.facts
                     if m in client.facts and client.facts[m].type == "need"}
            # ranked by the needs this recommendation answers (none: by product only)
            adds[product] = _Step("add", product, rule, "", rule.because.strip(),
                                  rank=policy.rank(needs, product))

    # a product she uses that has steps of its own (a how-to) but no step yet is kept: her own
    # scalp serum or mask stays in her plan and week
    for firing in trace:
        rule = rulebook.by_id[firing.rule]
        product = rule_product(rule)
        if (product in client.used and product not in client.reacted and product not in adds
                and (rule.steps or rule.schedule)
                and not any(s.product == product for s in steps.values())):
            steps[("keep", product, rule.id)] = _Step(
                "keep", product, rule, _item("keep", product, rule, words, label, how_often),
                rule.because.strip())
    # a product she already uses is kept, never added (I4)
    kept = {s.product for s in steps.values() if s.action == "keep"}
    stopped = {s.product for s in steps.values() if s.action in ("stop", "pause")}
    held: set[str] = set()
    for product, step in list(adds.items()):
        # a practice is in use when her habit already has it every day (scalp massage); done
        # less often, it is a change of habit, not something new
        habit = client.habits.get(product) if product in practices else None
        in_use = habit == "daily" if product in practices else product in client.used
        if habit in ("weekly",):
            del adds[product]
            line = words["more_practice"].format(product=label(product), how_often=how_often(product),
                                                 habit=vocab.label(product, habit))
            steps[("change", product, step.rule.id)] = _Step("change", product, step.rule,
                                                             line[:1].upper() + line[1:], step.why)
            continue
        if in_use:
            del adds[product]
            if product not in kept and product not in stopped:
                steps[("keep", product, step.rule.id)] = _Step(
                    "keep", product, step.rule, _item("keep", product, step.rule, words, label, how_often),
                    step.why)
                kept.add(product)
    # I5: nothing new while a reaction settles; nothing new on the scalp while a red flag is open
    # or the warning-sign questions are unanswered
    if client.red_flags & set(policy["no_new_products_with"]):
        held |= set(adds)
    if client.red_flags or client.unanswered:
        held |= set(adds) & set(policy["scalp_products"])
    # I3: one product per need
    for group in policy["one_per_need"]:
        present = [p for p in group if p in adds and p not in held]
        if any(p in client.used and p not in client.reacted for p in group):
            held |= set(present)
        elif len(present) > 1:
            best = min(present, key=lambda p: adds[p].rank)
            held |= set(present) - {best}
    for product in held:
        adds.pop(product, None)

    # I2: stagger the new items
    reactive = client.reactive(policy)
    leave_on = set(policy["leave_on_scalp"])
    per_week: dict[int, list[str]] = {}
    ordered_adds = sorted(adds.values(), key=lambda s: s.rank)
    for step in ordered_adds:
        week = 1
        while True:
            started = per_week.get(week, [])
            scalp_count = sum(1 for p in started if p in leave_on)
            if len(started) < policy.new_per_week and not (
                    reactive and step.product in leave_on and scalp_count >= policy.scalp_per_week):
                break
            week += policy.gap
        per_week.setdefault(week, []).append(step.product)
        step.start_week = week
        step.new = True
        step.item = _item("add", step.product, step.rule, words, label, how_often, practices,
                          kind=policy["kinds"].get(step.rule.id))
        if week > 1:
            before = ["the " + label(p) for w in sorted(per_week) if w < week for p in per_week[w]]
            template = words["later_reactive"] if reactive and step.product in leave_on else words["later"]
            step.why = f"{step.why} {' '.join(template.format(week=week, before=_join(before)).split())}"

    # a stopped or paused scalp product gets no other step (no "use it less" next to "pause
    # it"); a pause on the scalp already said by an off-the-scalp correction is not said twice
    scalp_products = set(policy["scalp_products"])
    gone_now = {s.product for s in steps.values()
                if s.action == "stop" or (s.action == "pause" and s.product in scalp_products)}
    off_scalp = {s.product for s in steps.values() if s.rule.id in policy["off_scalp_rules"]}
    for key, s in list(steps.items()):
        if s.product in gone_now and s.action in ("change", "keep"):
            del steps[key]
        elif s.action == "pause" and s.product not in scalp_products and s.product in off_scalp:
            del steps[key]

    # the steps in the order she should act on them
    order = {a: i for i, a in enumerate(policy["action_order"])}
    fixed = sorted((s for s in steps.values()), key=lambda s: (order[s.action], -s.rule.salience, s.rule.id,
                                                              s.product or ""))
    # a patch-test step cites the patch-test rule when it fired, else the product's own rule
    # (a tea tree treatment carries its own patch test)
    fired = {f.rule for f in trace}
    patch_rule = rulebook.by_id.get(policy["patch_test_rule"])
    out: list[_Step] = list(fixed)
    for step in sorted(ordered_adds, key=lambda s: (s.start_week, s.rank)):
        if step.product in held:
            continue
        if step.product not in practices and (reactive or step.product in policy["patch_test_always"]):
            cite = patch_rule if patch_rule is not None and patch_rule.id in fired else step.rule
            out.append(_Step("add", step.product, cite,
                             words["patch_test"].format(product=label(step.product)),
                             " ".join(words["patch_test_why"].split()), new=False,
                             start_week=step.start_week))
        out.append(step)
    plan = [PlanStep(step=i, item=s.item, product=None if s.product in practices else s.product,
                     action=s.action, new=s.new, start_week=s.start_week, rule=s.rule.id, why=s.why)
            for i, s in enumerate(out, 1)]

    starts = {s.product: s.start_week for s in ordered_adds if s.product not in held}
    later = {p for p, w in starts.items() if w > 1}
    # a stopped product, or a paused scalp product, leaves the week; a hair product paused only
    # on the scalp (hair serum put on the roots) stays for the lengths
    gone = held | ({s.product for s in steps.values() if s.action == "stop"
                    or (s.action == "pause" and s.product in policy["scalp_products"])} - kept)
    week_entries: list[ScheduleEntry] = []
    wash: dict[str, tuple[int, list[int]]] = {}
    for firing in trace:
        rule = rulebook.by_id[firing.rule]
        product = rule_product(rule)
        if product in gone:
            continue
        for entry in rule.schedule:
            if product not in later and not entry.replaces and entry not in week_entries:
                week_entries.append(entry)
        for ws in rule.wash_day:
            order_, weeks = wash.setdefault(ws.step, (ws.order, []))
            weeks.append(starts.get(product, 1) if product else 1)
    wash_steps = {}
    for text, (order_, weeks) in wash.items():
        first = 1 if text in policy["basic_wash_steps"] else min(weeks)
        wash_steps[text if first == 1 else f"{text} (from week {first})"] = order_
    heat = client.habits.get("heat_styling_per_week")
    caps = [n for rid, n in (policy.data.get("heat_caps") or {}).items() if rid in fired]
    if caps and isinstance(heat, int) and not isinstance(heat, bool):
        heat = min([heat, *caps])
    return PlanResult(plan, week_entries, wash_steps, starts, held, heat)


def _step_product(rule: Rule, firing: Firing, client: _Client, vocab) -> str | None:
    uses = vocab.types.get("uses")
    products = uses.fields["product"].values if uses and "product" in uses.fields else ()
    bound = firing.bindings.get("product")
    if isinstance(bound, str) and bound in products:
        return bound
    tagged = next((t.split(":", 1)[1] for t in rule.tags if t.startswith("product:")), None)
    if tagged:
        return tagged
    for fid in firing.facts:
        fact = client.facts.get(fid)
        if fact is not None and fact.type == "uses":
            return fact.fields["product"]
    return rule_product(rule)


def _item(action: str, product: str | None, rule: Rule, words: dict, label, how_often,
          practices: set | frozenset = frozenset(), scalp_products=None, kind: str | None = None) -> str:
    if scalp_products is None:
        scalp_products = load_policy()["scalp_products"]
    if action == "change" or product is None:
        return rule.title
    text = kind or label(product)
    if action == "add" and product in practices:
        template = words["add_practice"]
    else:
        template = words[action]
    line = template.format(product=text, a_product=_a(text), how_often=how_often(product) if action in ("add", "keep") else "")
    if action == "pause" and product not in scalp_products:
        line += " on the scalp"
    return line[:1].upper() + line[1:]


def _a(text: str) -> str:
    return ("an " if text[:1].lower() in "aeiou" else "a ") + text


def _join(items: list[str]) -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= 1:
        return "".join(items) or "the first changes"
    return ", ".join(items[:-1]) + " and " + items[-1]


def wash_day_order(steps: dict[str, int]) -> list[str]:
    """The wash-day steps in order (lower ``order`` first, then by text)."""
    return [step for step, _ in sorted(steps.items(), key=lambda kv: (kv[1], kv[0]))]


__all__ = ["Policy", "PlanResult", "build", "load_policy", "rule_product", "rule_action",
           "wash_day_order"]
