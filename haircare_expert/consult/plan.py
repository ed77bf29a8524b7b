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
from typing import Any, NamedTuple

from haircare_expert.consult.policy import Policy, load_policy
from haircare_expert.knowledge.rulebook import Rule, Rulebook, ScheduleEntry
from haircare_expert.model import ADVICE_KINDS, UNKNOWN, Fact, Firing, PlanStep

ACTION_TAGS = ("stop", "pause", "change", "keep")
#: Reactions that show the scalp (not only the hair) reacted to a product.
SCALP_REACTIONS = ("rash", "itching", "redness", "shedding")
_SCALP_REACTIONS = frozenset(SCALP_REACTIONS)


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


@dataclass(slots=True)
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
    return product_tag(rule)


def product_tag(rule: Rule) -> str | None:
    """The product a rule's ``product:`` tag names, if it has one."""
    return next((t.split(":", 1)[1] for t in rule.tags if t.startswith("product:")), None)


def rule_action(rule: Rule) -> str | None:
    for tag in rule.tags:
        if tag.startswith("plan:") and tag[5:] in ACTION_TAGS:
            return tag[5:]
    return None


class RuleFacts(NamedTuple):
    """What the plan stage reads of one rule for every client, worked out once per rulebook (a
    named tuple: a frozen dataclass costs a cold start ~1.4 ms to define)."""

    rule: Rule
    product: str | None     #: :func:`rule_product`
    action: str | None      #: :func:`rule_action`
    tagged: str | None      #: its ``product:`` tag
    because: str            #: its ``because``, stripped
    planned: bool           #: it gives advice or declares facts (only those make steps)
    hands_on: bool          #: it has steps or calendar entries of its own
    recommends: bool        #: it declares recommendations (new products)
    in_week: bool           #: it has calendar entries or wash-day steps


class PlanData(NamedTuple):
    """The rulebook as the plan stage reads it (:meth:`Rulebook.derived` keeps it per rulebook)."""

    rules: dict[str, RuleFacts]
    #: the product ids a routine entry may name
    products: frozenset[str]


def plan_data(rulebook: Rulebook) -> PlanData:
    """Each rule's :class:`RuleFacts` and the vocabulary's products, worked out from the rules."""
    rules = {}
    for rule in rulebook.rules:
        rules[rule.id] = RuleFacts(
            rule=rule, product=rule_product(rule), action=rule_action(rule),
            tagged=product_tag(rule),
            because=rule.because.strip(), planned=rule.kind in ADVICE_KINDS or bool(rule.declare),
            hands_on=bool(rule.steps or rule.schedule),
            recommends=any(d.type == "recommend" for d in rule.declare),
            in_week=bool(rule.schedule or rule.wash_day))
    uses = rulebook.vocabulary.types.get("uses")
    products = uses.fields["product"].values if uses and "product" in uses.fields else ()
    return PlanData(rules, frozenset(products))


class _Client:
    """What the plan needs to know about the client, read once from the facts."""

    def __init__(self, facts: list[Fact]):
        self.facts = {f.id: f for f in facts}
        self.used: dict[str, list[Fact]] = {}
        self.reacted: set[str] = set()
        self.states = states = set()
        self.needs = needs = set()
        self.red_flags = red_flags = set()
        self.unanswered = True
        self.habits: dict = {}
        reactions_unanswered = False
        for f in facts:
            ftype, fields = f.type, f.fields
            if ftype == "need":
                needs.add(fields["name"])
            elif ftype == "uses":
                self.used.setdefault(fields["product"], []).append(f)
                reactions = fields.get("reactions")
                if isinstance(reactions, tuple) and not _SCALP_REACTIONS.isdisjoint(reactions):
                    self.reacted.add(fields["product"])
                reactions_unanswered = reactions_unanswered or reactions == UNKNOWN
            elif ftype == "red-flag":
                red_flags.add(fields["reason"])
            elif ftype == "scalp-state":
                states.add(fields["state"])
            elif ftype == "habits":
                self.habits = dict(fields)
            elif ftype == "scalp":
                self.unanswered = fields.get("symptoms", UNKNOWN) == UNKNOWN
        if reactions_unanswered:
            self.unanswered = True

    def reactive(self, policy: Policy) -> bool:
        return bool(self.states & set(policy["reactive"]["scalp_states"])
                    or self.red_flags & set(policy["reactive"]["red_flags"]))


def build(rulebook: Rulebook, facts: list[Fact], trace: list[Firing],
          policy: Policy | None = None) -> PlanResult:
    """The client's plan from the facts and firings of one run."""
    b = _Builder(rulebook, facts, trace, policy or load_policy())
    b.collect()
    b.keep_own_products()
    b.settle_adds()
    b.hold_back()
    b.stagger()
    b.prune()
    plan = b.ordered_plan()
    return PlanResult(plan, *b.week())


class _Builder:
    """One run of the plan stage; each method is one step of :func:`build`, in order."""

    def __init__(self, rulebook: Rulebook, facts: list[Fact], trace: list[Firing], policy: Policy):
        self.rulebook, self.trace, self.policy = rulebook, trace, policy
        self.vocab = rulebook.vocabulary
        data = rulebook.derived(plan_data)
        self.products = data.products
        self.client = _Client(facts)
        self.words = policy["words"]
        self.practices = policy.sets["practices"]
        self.steps: dict[tuple, _Step] = {}
        self.adds: dict[str, _Step] = {}
        self.kept: set[str] = set()
        self.held: set[str] = set()
        self.ordered_adds: list[_Step] = []
        self.fired: set[str] = set()
        #: each firing with what the plan reads of its rule
        self.fired_rules: list[tuple[Firing, RuleFacts]] = []
        # what each product's schedule entries say about how often (for the step's item)
        self.entries_of: dict[str, list[ScheduleEntry]] = {}
        for firing in trace:
            info = data.rules[firing.rule]
            self.fired.add(firing.rule)
            self.fired_rules.append((firing, info))
            product, schedule = info.product, info.rule.schedule
            if product and schedule:
                known = self.entries_of.setdefault(product, [])
                for entry in schedule:
                    if entry not in known:
                        known.append(entry)

    def label(self, product: str | None) -> str:
        return self.vocab.label("product", product) if product else ""

    def how_often(self, product: str | None) -> str:
        entries = [e for e in self.entries_of.get(product or "", []) if not e.replaces]
        if not entries:
            return ""
        e = entries[0]
        freq = self.words["frequency"]
        if e.days in ("daily", "heat"):
            return freq[e.days]
        low, high = e.per_week
        if e.days == "wash" and high >= 7:
            return freq["every_wash"]
        count = "once a week" if (low, high) == (1, 1) else (
            f"{low} times a week" if low == high else f"{low} to {high} times a week")
        return f", {count}{freq.get(e.days, '')}"

    def item(self, action: str, product: str | None, rule: Rule, **more) -> str:
        return _item(action, product, rule, self.words, self.label, self.how_often, **more)

    def collect(self) -> None:
        """A step for every rule tagged with a plan action; an add for every product recommended."""
        client = self.client
        for firing, info in self.fired_rules:
            if not info.planned:
                continue
            rule, action = info.rule, info.action
            if action:
                product = _step_product(info, firing, client, self.products)
                key = (action, product, rule.id)
                if key not in self.steps:
                    self.steps[key] = _Step(action, product, rule, self.item(action, product, rule),
                                            info.because)
            for fid in firing.declared if info.recommends else ():
                fact = client.facts.get(fid)
                if fact is None or fact.type != "recommend":
                    continue
                product = fact.fields["product"]
                if product in self.adds or product in client.reacted:
                    continue
                needs = {client.facts[m].fields["name"] for m in firing.facts
                         if m in client.facts and client.facts[m].type == "need"}
                # ranked by the needs this recommendation answers (none: by product only)
                self.adds[product] = _Step("add", product, rule, "", info.because,
                                           rank=self.policy.rank(needs, product))

    def keep_own_products(self) -> None:
        """A product she uses that has steps of its own (a how-to) but no step yet is kept: her
        own scalp serum or mask stays in her plan and week."""
        client = self.client
        for _firing, info in self.fired_rules:
            product, rule = info.product, info.rule
            if (info.hands_on and product in client.used and product not in client.reacted
                    and product not in self.adds and not any(s.product == product for s in self.steps.values())):
                self.steps[("keep", product, rule.id)] = _Step(
                    "keep", product, rule, self.item("keep", product, rule), info.because)

    def settle_adds(self) -> None:
        """A product she already uses is kept, never added (I4); a practice she has less often
        than advised is a change of habit."""
        client, steps = self.client, self.steps
        self.kept = {s.product for s in steps.values() if s.action == "keep"}
        stopped = {s.product for s in steps.values() if s.action in ("stop", "pause")}
        for product, step in list(self.adds.items()):
            # a practice is in use when her habit already has it every day (scalp massage); done
            # less often, it is a change of habit, not something new
            habit = client.habits.get(product) if product in self.practices else None
            in_use = habit == "daily" if product in self.practices else product in client.used
            if habit in ("weekly",):
                del self.adds[product]
                line = self.words["more_practice"].format(product=self.label(product),
                                                          how_often=self.how_often(product),
                                                          habit=self.vocab.label(product, habit))
                steps[("change", product, step.rule.id)] = _Step("change", product, step.rule,
                                                                 line[:1].upper() + line[1:], step.why)
                continue
            if in_use:
                del self.adds[product]
                if product not in self.kept and product not in stopped:
                    steps[("keep", product, step.rule.id)] = _Step(
                        "keep", product, step.rule, self.item("keep", product, step.rule), step.why)
                    self.kept.add(product)

    def hold_back(self) -> None:
        """I5: nothing new while a reaction settles, nothing new on the scalp while a red flag
        is open or the warning-sign questions are unanswered; I3: one product per need."""
        client, policy, adds, held = self.client, self.policy, self.adds, self.held
        if not policy.sets["no_new_products_with"].isdisjoint(client.red_flags):
            held |= set(adds)
        if client.red_flags or client.unanswered:
            held |= policy.sets["scalp_products"].intersection(adds)
        for group in policy["one_per_need"]:
            present = [p for p in group if p in adds and p not in held]
            if any(p in client.used and p not in client.reacted for p in group):
                held |= set(present)
            elif len(present) > 1:
                best = min(present, key=lambda p: adds[p].rank)
                held |= set(present) - {best}
        for product in held:
            adds.pop(product, None)

    def stagger(self) -> None:
        """I2: the new items a few a week, in rank order; a later start says why."""
        policy, words = self.policy, self.words
        self.reactive = reactive = self.client.reactive(policy)
        leave_on = policy.sets["leave_on_scalp"]
        per_week: dict[int, list[str]] = {}
        self.ordered_adds = sorted(self.adds.values(), key=lambda s: s.rank)
        for step in self.ordered_adds:
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
            step.item = self.item("add", step.product, step.rule, practices=self.practices,
                                  kind=policy["kinds"].get(step.rule.id))
            if week > 1:
                before = ["the " + self.label(p) for w in sorted(per_week) if w < week for p in per_week[w]]
                template = words["later_reactive"] if reactive and step.product in leave_on else words["later"]
                step.why = f"{step.why} {' '.join(template.format(week=week, before=_join(before)).split())}"

    def prune(self) -> None:
        """A stopped or paused scalp product gets no other step (no "use it less" next to
        "pause it"); a pause on the scalp already said by an off-the-scalp correction is not
        said twice."""
        steps, policy = self.steps, self.policy
        scalp_products = policy.sets["scalp_products"]
        gone_now = {s.product for s in steps.values()
                    if s.action == "stop" or (s.action == "pause" and s.product in scalp_products)}
        off_scalp = {s.product for s in steps.values() if s.rule.id in policy.sets["off_scalp_rules"]}
        for key, s in list(steps.items()):
            if s.product in gone_now and s.action in ("change", "keep"):
                del steps[key]
            elif s.action == "pause" and s.product not in scalp_products and s.product in off_scalp:
                del steps[key]

    def ordered_plan(self) -> list[PlanStep]:
        """The steps in the order she should act on them, a patch test before each new product
        that needs one."""
        policy, words = self.policy, self.words
        order = policy.action_order
        fixed = sorted(self.steps.values(), key=lambda s: (order[s.action], -s.rule.salience, s.rule.id,
                                                           s.product or ""))
        # a patch-test step cites the patch-test rule when it fired, else the product's own rule
        # (a tea tree treatment carries its own patch test)
        patch_rule = self.rulebook.by_id.get(policy["patch_test_rule"])
        out: list[_Step] = list(fixed)
        for step in sorted(self.ordered_adds, key=lambda s: (s.start_week, s.rank)):
            if step.product in self.held:
                continue
            if step.product not in self.practices and (self.reactive or step.product in policy.sets["patch_test_always"]):
                cite = patch_rule if patch_rule is not None and patch_rule.id in self.fired else step.rule
                out.append(_Step("add", step.product, cite,
                                 words["patch_test"].format(product=self.label(step.product)),
                                 " ".join(words["patch_test_why"].split()), new=False,
                                 start_week=step.start_week))
            out.append(step)
        return [PlanStep(step=i, item=s.item, product=None if s.product in self.practices else s.product,
                         action=s.action, new=s.new, start_week=s.start_week, rule=s.rule.id, why=s.why)
                for i, s in enumerate(out, 1)]

    def week(self) -> tuple:
        """(week-1 schedule entries, wash-day steps with the week they start, starts, held, heat
        days): a stopped product, or a paused scalp product, leaves the week; a hair product
        paused only on the scalp (hair serum put on the roots) stays for the lengths."""
        policy, steps = self.policy, self.steps
        starts = {s.product: s.start_week for s in self.ordered_adds if s.product not in self.held}
        later = {p for p, w in starts.items() if w > 1}
        gone = self.held | ({s.product for s in steps.values() if s.action == "stop"
                             or (s.action == "pause" and s.product in policy.sets["scalp_products"])} - self.kept)
        week_entries: list[ScheduleEntry] = []
        wash: dict[str, tuple[int, list[int]]] = {}
        for _firing, info in self.fired_rules:
            rule, product = info.rule, info.product
            if not info.in_week or product in gone:
                continue
            for entry in rule.schedule:
                if product not in later and not entry.replaces and entry not in week_entries:
                    week_entries.append(entry)
            for ws in rule.wash_day:
                _order, weeks = wash.setdefault(ws.step, (ws.order, []))
                weeks.append(starts.get(product, 1) if product else 1)
        wash_steps = {}
        for text, (order_, weeks) in wash.items():
            first = 1 if text in policy.sets["basic_wash_steps"] else min(weeks)
            if first > 1:
                text = f"{text[:-1]}, from week {first})" if text.endswith(")") else f"{text} (from week {first})"
            wash_steps[text] = order_
        heat = self.client.habits.get("heat_styling_per_week")
        caps = [n for rid, n in (policy.data.get("heat_caps") or {}).items() if rid in self.fired]
        if caps and isinstance(heat, int) and not isinstance(heat, bool):
            heat = min([heat, *caps])
        return week_entries, wash_steps, starts, self.held, heat


def _step_product(info: RuleFacts, firing: Firing, client: _Client, products: frozenset) -> str | None:
    """The product a step is about: the one bound, else the rule's tag, else the one in use."""
    bound = firing.bindings.get("product")
    if isinstance(bound, str) and bound in products:
        return bound
    if info.tagged:
        return info.tagged
    for fid in firing.facts:
        fact = client.facts.get(fid)
        if fact is not None and fact.type == "uses":
            return fact.fields["product"]
    return info.product


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
