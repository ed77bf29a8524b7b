"""The shipped knowledge base: every rule proven by its own cases, every atom of the knowledge checklist covered, safety and wording rules kept."""
from __future__ import annotations

import os
import re

import pytest
from conftest import ROOT

from haircare_expert.knowledge.rulebook import Rulebook

#: The knowledge checklist (../shared/KNOWLEDGE.md), one line each in our own words. Every atom
#: must be covered by at least one rule tagged ``atom-<id>``; kept here so that the test runs from
#: a clean clone without the shared folder.
ATOMS = {
    "a1": "scalp serum: concentrated care for the skin of the scalp, unlike hair serum and oil",
    "a2": "hair serum: silicone/oil (or amino acid) liquid that protects and holds a style",
    "a3": "hair mask: oil-and-protein treatment that nourishes, moisturises and repairs",
    "a4": "serum and mask do different jobs; neither is best; a mask is not worn all day",
    "a5": "the serum-vs-mask table can be generated from the rules (haircare compare)",
    "b1": "a healthy scalp is clean and smooth, without flakes, redness or irritation",
    "b2": "itching, soreness and heavy shedding are warning signs",
    "b3": "a dry, flaky, itchy scalp is unhealthy; flakes on clothes mean act now",
    "b4": "a clogged or extra-oily scalp is unhealthy too",
    "b5": "dull, flat or limp hair: look at the scalp, it may lack hydration",
    "b6": "a healthy scalp goes with healthy hair for every hair type",
    "b7": "dandruff and dry scalp differ; the system does not invent how",
    "b8": "thinning and breakage can start at the scalp",
    "c1": "frizz or dryness: check shampoo and conditioner, heat protectant, leave-in",
    "c2": "dry, flaky, itchy scalp or thinning: a scalp serum",
    "c3": "nourish the scalp with a tea tree oil treatment",
    "c4": "build-up: a clarifying scrub, and a scalp serum as a clarifying treatment",
    "c5": "irritated scalp: soothing products (rosemary, cedar, sage, peppermint)",
    "c6": "thinning and breakage: a volumizing serum with a scalp serum",
    "c7": "learn the triggers of dryness and flakes and the helpful ingredients",
    "c8": "daily scalp massage with finger pads or a massager",
    "c9": "hair serum for frizz, straight sleek hair, curl definition and shine",
    "c10": "hair serum first when heat styling",
    "c11": "damaged hair: repair first, serum after",
    "c12": "dry or damaged hair that needs nourishment: a hair mask",
    "c13": "scalp care goes beyond a rinse every other day",
    "d1": "the four steps for a scalp serum",
    "d2": "the steps for a hair serum",
    "d3": "the steps for a hair mask",
    "e1": "scalp serum 2-3 times a week, results in weeks",
    "e2": "hair serum not daily",
    "e3": "hair mask frequency (the source calls it daily-safe)",
    "e4": "scalp massage daily",
    "e5": "the wash-day order: detox, rinse, mask, moisturise, serum",
    "f1": "misuse: hair serum on the scalp or roots",
    "f2": "misuse: hair serum every day",
    "f3": "misuse: hair serum on dry hair",
    "f4": "misuse: a serum that dries the hair or comes with shedding",
    "f5": "misuse: hair mask left in or worn through the day",
    "f6": "misuse: scalp serum rinsed out or used far too often",
    "f7": "misuse: scalp serum on unwashed hair",
    "f8": "misuse: no moisturising between mask and serum",
    "x1": "sources disagree: hair serum on dry hair",
    "x2": "sources disagree: hair mask on the scalp",
    "x3": "sources disagree: masks side-effect free and daily-safe",
    "h1": "red flags go to a dermatologist before any other advice",
    "h2": "patch-test new products on a sensitive or reactive scalp",
    "h3": "cosmetic wording and a disclaimer",
}
#: Rules with no conditions: they fire for everyone, so they cannot have a silent case.
UNCONDITIONAL = {"cosmetic-advice-disclaimer"}
SHIPPED = Rulebook.load()
#: The team's shared folder beside the checkout (../shared), or beside a worktree folder
#: (../../shared for /work/wt/<name>); tests that read it skip when neither exists.
SHARED = next((p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if p.is_dir()),
              ROOT.parent / "shared")


def _rule_cases():
    for rule in SHIPPED.rules:
        for key in ("fires", "silent"):
            for index, case in enumerate(rule.examples.get(key) or []):
                yield pytest.param(rule.id, key, case, id=f"{rule.id}-{key}{index}")


def _texts(rule):
    yield rule.title
    yield rule.advise
    yield from rule.steps
    yield rule.because
    if rule.conflict:
        yield rule.conflict["topic"]
        yield rule.conflict["resolution"]


def test_the_knowledge_base_has_a_sensible_size():
    assert 50 <= len(SHIPPED) <= 120


@pytest.mark.parametrize("rule_id, key, case", list(_rule_cases()))
def test_rule_example_fires_or_stays_silent(advisor, rule_id, key, case):
    fired = advisor.consult(case).fired_rules()
    assert (rule_id in fired) == (key == "fires"), f"{rule_id} should {'fire' if key == 'fires' else 'stay silent'} on {case}"


@pytest.mark.parametrize("rule", SHIPPED.rules, ids=lambda r: r.id)
def test_every_rule_has_a_firing_and_a_silent_case(rule):
    assert rule.examples.get("fires"), f"{rule.id} has no 'fires' example"
    if rule.id in UNCONDITIONAL:
        assert not rule.when
    else:
        assert rule.examples.get("silent"), f"{rule.id} has no 'silent' example"


def test_every_atom_of_the_checklist_is_covered_by_a_rule():
    covered = {t[len("atom-"):] for r in SHIPPED.rules for t in r.tags if t.startswith("atom-")}
    assert sorted(set(ATOMS) - covered) == []


def test_atom_tags_name_real_atoms():
    unknown = {(r.id, t) for r in SHIPPED.rules for t in r.tags
               if t.startswith("atom-") and t[len("atom-"):] not in ATOMS}
    assert unknown == set()


def test_atom_list_matches_the_shared_checklist_when_it_is_there():
    checklist = SHARED / "KNOWLEDGE.md"
    if not checklist.is_file():
        pytest.skip("../shared/KNOWLEDGE.md is not beside the repository")
    ids = {m.lower() for m in re.findall(r"^- ([A-HX]\d+) ", checklist.read_text(encoding="utf-8"), re.M)}
    assert ids == set(ATOMS)


@pytest.mark.parametrize("rule", SHIPPED.rules, ids=lambda r: r.id)
def test_every_rule_cites_a_source_section_or_is_marked_own(rule):
    for ref in rule.sources:
        assert ref.get("own") or (ref["source"] in SHIPPED.sources and ref["section"])
    if rule.kind == "referral":   # the safety rules are the system's own (KNOWLEDGE H)
        assert rule.own(), f"referral {rule.id} must be marked as the system's own"


#: KNOWLEDGE I7: a missing step (no moisturiser between mask and serum) is a how-to line.
HOW_TO_MISUSE = {"f8"}


def test_every_misuse_in_the_checklist_is_a_warning():
    """Each misuse in the checklist is a warning the client reads first, except a missing step (I7)."""
    for atom in (a for a in ATOMS if a.startswith("f")):
        kind = "how-to" if atom in HOW_TO_MISUSE else "warning"
        warnings = [r for r in SHIPPED.rules if f"atom-{atom}" in r.tags and r.kind == kind]
        assert warnings, f"misuse {atom} has no warning rule"
        assert all(w.advise and w.because for w in warnings)


def test_every_recommended_product_comes_with_how_to_use_it():
    how_to = {t.value for r in SHIPPED.rules if r.kind == "how-to" for variant in r.variants()
              for p in variant if getattr(p, "type", "") == "recommend" for t in p.tests if t.op == "eq"}
    for rule in SHIPPED.rules:
        for decl in rule.declare:
            if decl.type != "recommend":
                continue
            product = dict(decl.fields)["product"]
            assert (product in how_to or rule.steps or "label" in rule.advise), \
                f"{rule.id} recommends {product} but nothing says how to use it"


def test_red_flag_rules_are_referrals_listed_before_everything_else(advisor):
    c = advisor.consult({"scalp": {"symptoms": ["flaking", "pain_swelling"]},
                         "hair": {"concerns": ["damage"]},
                         "routine": [{"product": "hair_serum", "applied_to": ["roots"]}]})
    kinds = [a.kind for a in c.advice]
    assert kinds[0] == "referral" and c.advice[0].rule == "refer-pain-or-swelling"
    assert kinds == sorted(kinds, key=["referral", "warning", "recommendation", "how-to", "schedule", "note"].index)


@pytest.mark.parametrize("symptom", ["patchy_loss", "pain_swelling", "soreness", "rash",
                                     "excessive_shedding", "persistent_symptoms"])
def test_a_red_flag_holds_back_new_scalp_care_but_keeps_advice_for_the_lengths(advisor, symptom):
    profile = {"scalp": {"symptoms": ["flaking", "buildup", "redness", symptom]},
               "hair": {"concerns": ["thinning", "damage", "frizz"]}, "goals": ["growth"],
               "habits": {"scalp_massage": "never", "washes_per_week": 3},
               "routine": [{"product": "hair_serum", "applied_to": ["scalp"]}]}
    c = advisor.consult(profile)
    recommended = {f.fields["product"] for f in c.facts if f.type == "recommend"}
    assert c.advice[0].kind == "referral"
    assert recommended.isdisjoint({"scalp_serum", "scalp_scrub", "tea_tree_treatment",
                                   "soothing_treatment", "volumizing_serum", "scalp_massage"})
    assert {"hair_mask", "hair_serum"} <= recommended
    assert {"red-flag-what-is-still-safe", "hair-serum-not-on-scalp"} <= c.fired_rules()
    planned = {item for day in c.schedule.values() for item in day}
    assert planned and not any(item.startswith(("Scalp", "Volumizing")) for item in planned)


def test_without_a_red_flag_the_same_client_gets_scalp_care(advisor):
    c = advisor.consult({"scalp": {"symptoms": ["flaking", "buildup"]},
                         "hair": {"concerns": ["thinning"]}, "goals": ["growth"]})
    recommended = {f.fields["product"] for f in c.facts if f.type == "recommend"}
    assert {"scalp_serum", "scalp_scrub", "volumizing_serum", "scalp_massage"} <= recommended
    assert not any(a.kind == "referral" for a in c.advice)


def test_a_product_reaction_says_stop_that_product_and_never_recommends_it(advisor):
    c = advisor.consult({"hair": {"concerns": ["frizz"], "type": "straight"},
                         "routine": [{"product": "hair_serum", "reactions": ["itching"]}]})
    first = c.advice[0]
    assert first.rule == "refer-product-reaction" and "Stop using your hair serum" in first.text
    assert "recommend-smoothing-hair-serum" not in c.fired_rules()
    assert "reaction-no-new-products-yet" in c.fired_rules()


# -- the consultant's review (items by number) -------------------------------------------------

def _texts_of(c, rule_id):
    return [a.text for a in c.advice if a.rule == rule_id]


def test_a_red_flag_names_each_current_scalp_product_and_the_massage_to_pause(advisor):
    """Item 1: the client is told which of their own scalp products to pause, one by one."""
    c = advisor.consult({"scalp": {"symptoms": ["patchy_loss"]},
                         "habits": {"scalp_massage": "weekly"},
                         "routine": [{"product": "shampoo", "applied_to": ["scalp"]},
                                     {"product": "scalp_serum"},
                                     {"product": "hair_oil", "applied_to": ["scalp", "ends"]},
                                     {"product": "hair_serum", "applied_to": ["ends"]},
                                     {"product": "tea_tree_treatment", "reactions": ["rash"]}]})
    paused = " ".join(_texts_of(c, "red-flag-pause-scalp-product"))
    assert "scalp serum" in paused and "hair oil" in paused
    assert not any(word in paused for word in ("shampoo", "hair serum", "tea tree"))
    assert any("Stop using your tea tree oil treatment" in t for t in _texts_of(c, "refer-product-reaction"))
    assert "once a week" in _texts_of(c, "red-flag-pause-scalp-massage")[0]
    assert all("doctor" in t for t in _texts_of(c, "red-flag-pause-scalp-product"))
    calm = advisor.consult({"scalp": {"symptoms": ["flaking"]}, "habits": {"scalp_massage": "daily"},
                            "routine": [{"product": "scalp_serum"}]})
    assert not {"red-flag-pause-scalp-product", "red-flag-pause-scalp-massage"} & calm.fired_rules()


STOPPED = {"routine": [{"product": "hair_serum", "applied_to": ["roots"], "hair_state": "dry",
                        "per_week": 7, "reactions": ["itching"]},
                       {"product": "hair_mask", "rinsed_out": False, "applied_to": ["scalp"]}],
           "hair": {"concerns": ["frizz", "dryness", "damage", "tangles"], "type": "straight"},
           "habits": {"heat_styling_per_week": 5}}


def test_a_stopped_product_gets_no_how_to_and_nothing_new_is_suggested(advisor):
    """Item 3: no usage advice, calendar step or new product while a reaction is open."""
    c = advisor.consult(STOPPED)
    about_serum = {"hair-serum-not-on-scalp", "hair-serum-not-daily", "hair-serum-on-dry-hair",
                   "hair-serum-drying", "hair-serum-how-to", "moisturise-before-serum"}
    assert not about_serum & c.fired_rules()
    assert [f for f in c.facts if f.type == "recommend"] == []
    assert not any("serum" in item.lower() for day in c.schedule.values() for item in day)
    assert not any("serum" in step.lower() for step in c.wash_day_order)
    # the mask was not reacted to: advice on using it the right way stays
    assert {"hair-mask-left-in", "hair-mask-on-scalp", "reaction-no-new-products-yet"} <= c.fired_rules()
    # the same routine without the reaction gets the corrections and the new products
    calm = advisor.consult({**STOPPED, "routine": [dict(STOPPED["routine"][0], reactions=[]), STOPPED["routine"][1]]})
    assert about_serum - {"hair-serum-drying", "hair-serum-how-to"} <= calm.fired_rules()
    assert any(f.type == "recommend" for f in calm.facts)


def test_shedding_after_a_product_goes_straight_to_a_dermatologist(advisor):
    """Item 4: no 'wait a few days' for shedding after a product."""
    c = advisor.consult({"routine": [{"product": "hair_mask", "reactions": ["shedding", "itching"]}]})
    first = c.advice[0]
    assert first.rule == "refer-shedding-after-product" and "dermatologist" in first.text
    assert "few days" not in " ".join(a.text for a in c.advice if a.kind == "referral")
    assert not {"refer-product-reaction", "refer-hair-mask-reaction"} & c.fired_rules()


def test_next_to_a_red_flag_no_weeks_of_care_and_no_return_to_the_scrub(advisor):
    """Items 5 and 6: a red flag points to the doctor, not to weeks of care or to later scrubbing."""
    c = advisor.consult({"scalp": {"symptoms": ["flaking", "redness", "soreness"]},
                         "routine": [{"product": "scalp_scrub", "applied_to": ["scalp"]}]})
    texts = " ".join(a.text for a in c.advice if a.rule != "cosmetic-advice-disclaimer")
    assert "4 to 6 weeks of this care" not in texts and "go back to the scrub" not in texts
    assert {"flakes-tell-the-doctor", "red-flag-pause-scalp-product"} <= c.fired_rules()
    assert not {"flakes-dry-scalp-or-dandruff", "scalp-scrub-on-irritated-scalp"} & c.fired_rules()


@pytest.mark.parametrize("profile", [{}, {"scalp": {"symptoms": "unknown"}},
                                     {"scalp": {"symptoms": []}, "routine": [{"product": "shampoo", "reactions": "unknown"}]}],
                         ids=["no-answers", "symptoms-unknown", "reactions-unknown"])
def test_missing_safety_answers_open_with_the_signs_to_watch_and_no_massage(advisor, profile):
    """Item 2: unknown symptoms or reactions are never read as an all-clear."""
    c = advisor.consult(profile)
    assert c.advice[0].rule == "warning-signs-not-checked"
    assert "dermatologist" in c.advice[0].text
    if profile.get("scalp", {}).get("symptoms") != []:
        assert "recommend-scalp-massage" not in c.fired_rules()


def test_fine_or_flat_hair_gets_a_light_serum_and_only_thin_or_flat_hair_gets_volume(advisor):
    """Items 8 and 9: no heavy smoothing serum for fine or flat hair; no volume for thick breaking hair."""
    for hair in ({"thickness": "fine", "concerns": ["frizz"]}, {"thickness": "medium", "concerns": ["flatness"]}):
        fired = advisor.consult({"hair": hair, "goals": ["shine"]}).fired_rules()
        assert "recommend-light-hair-serum" in fired and "recommend-smoothing-hair-serum" not in fired
    thick = advisor.consult({"hair": {"type": "coily", "thickness": "thick", "concerns": ["breakage"]},
                             "habits": {"heat_styling_per_week": 7}, "scalp": {"symptoms": []}})
    assert "recommend-volumizing-serum" not in thick.fired_rules()
    thin = advisor.consult({"hair": {"concerns": ["thinning"]}, "scalp": {"symptoms": []}})
    assert "recommend-volumizing-serum" in thin.fired_rules()


def test_a_product_the_client_already_uses_well_is_kept_not_sold_as_new(advisor):
    """Item 12: 'keep using it', with its how-to, instead of recommending it as a new product."""
    c = advisor.consult({"scalp": {"symptoms": ["flaking"]}, "goals": ["define_curls"],
                         "routine": [{"product": "scalp_serum", "washed_first": True, "per_week": 3},
                                     {"product": "hair_serum", "applied_to": ["ends"]}]})
    fired = c.fired_rules()
    assert {"keep-using-scalp-serum", "keep-using-hair-serum", "scalp-serum-how-to", "hair-serum-how-to"} <= fired
    assert not {"recommend-scalp-serum", "recommend-hydrating-hair-serum", "about-scalp-serum",
                "about-hair-serum"} & fired


def _days_with(c, prefix):
    return [day for day, items in c.schedule.items() if any(i.startswith(prefix) for i in items)]


def test_an_irritated_scalp_starts_one_new_product_at_a_time_and_no_massage(advisor):
    """Item 7: soothing care first and in the week, the scalp serum from week 3, massage after calming."""
    irritated = {"scalp": {"symptoms": ["redness", "itching", "sensitivity"]},
                 "habits": {"washes_per_week": 3, "scalp_massage": "never"}}
    c = advisor.consult(irritated)
    week = [item for day in c.schedule.values() for item in day]
    assert "Scalp serum" not in week and not any(i.startswith("Scalp massage") for i in week)
    assert len(_days_with(c, "Soothing scalp treatment")) in (2, 3)
    starts = {p.product: p.start_week for p in c.plan if p.new}
    assert starts == {"soothing_treatment": 1, "scalp_serum": 3}
    assert any(s.startswith("Soothing scalp treatment") for s in c.wash_day_order)
    assert any(s.startswith("Scalp serum") and s.endswith("(from week 3)") for s in c.wash_day_order)
    assert "week 3" in _texts_of(c, "soothe-first-then-scalp-serum")[0]
    assert {"scalp-massage-once-calm"} <= c.fired_rules()
    assert "recommend-scalp-massage" not in c.fired_rules()
    # a client who already massages a red scalp is told to pause it
    daily = advisor.consult({**irritated, "habits": {"scalp_massage": "daily"}})
    assert "every day" in _texts_of(daily, "scalp-massage-on-irritated-scalp")[0]
    # a red, itchy scalp is reactive even without "sensitive" ticked: staggered the same way,
    # each new scalp product after a patch test (KNOWLEDGE I2)
    plain = advisor.consult({"scalp": {"symptoms": ["redness", "itching"]}, "habits": {"washes_per_week": 3}})
    assert "soothe-first-then-scalp-serum" in plain.fired_rules()
    assert _days_with(plain, "Scalp serum") == []
    patch = [p.product for p in plain.plan if p.rule == "patch-test-new-products"]
    assert patch == ["soothing_treatment", "scalp_serum"]


def test_a_recommended_tea_tree_treatment_is_in_the_week_and_the_wash_day(advisor):
    """Item 7: every recommended scalp treatment has its days and its wash-day step."""
    c = advisor.consult({"scalp": {"symptoms": []}, "goals": ["healthy_scalp"],
                         "habits": {"washes_per_week": 3}})
    assert len(_days_with(c, "Tea tree scalp treatment")) in (1, 2)
    assert any(s.startswith("Tea tree scalp treatment") for s in c.wash_day_order)


def test_heat_days_get_the_protectant_and_daily_heat_on_breaking_hair_is_questioned(advisor):
    """Item 10: the protectant is in the week (for heat days only); heavy heat on weak hair is cut."""
    c = advisor.consult({"hair": {"type": "coily", "thickness": "thick", "concerns": ["breakage"]},
                         "habits": {"heat_styling_per_week": 7, "washes_per_week": 1}})
    # the advice cuts heat to twice a week; the calendar marks no more heat days than that
    assert len(_days_with(c, "Heat protectant")) == 2
    order = c.wash_day_order
    serum = next(i for i, s in enumerate(order) if s.startswith("Hair serum"))
    heat = next(i for i, s in enumerate(order) if s.startswith("Heat protectant"))
    assert serum < heat                                      # C10: the serum goes on first
    assert "7 times a week" in _texts_of(c, "cut-heat-on-damaged-hair")[0]
    light = advisor.consult({"hair": {"concerns": ["breakage"]}, "habits": {"heat_styling_per_week": 1}})
    assert "cut-heat-on-damaged-hair" not in light.fired_rules()
    assert _days_with(light, "Heat protectant") == ["mon"]          # one heat day, one day


def test_a_drying_serum_is_never_answered_with_a_silicone_free_one(advisor):
    """Item 11: the advice does not both recommend a silicone serum and tell the client to drop silicone."""
    c = advisor.consult({"hair": {"type": "straight", "concerns": ["frizz", "dryness"]},
                         "routine": [{"product": "hair_serum", "hair_state": "dry", "per_week": 7}]})
    assert "hair-serum-drying" in c.fired_rules()
    texts = " ".join(a.text for a in c.advice)
    assert "silicone-free serum" not in texts
    assert "hydrating serum" in _texts_of(c, "hair-serum-drying")[0]


def test_conditioner_on_an_oily_scalp_is_moved_to_the_lengths(advisor):
    """Item 13: conditioner on an oily scalp is caught; on a dry scalp it is left alone."""
    oily = advisor.consult({"scalp": {"symptoms": ["oiliness"]},
                            "routine": [{"product": "conditioner", "applied_to": ["scalp", "ends"]}]})
    assert "lengths" in _texts_of(oily, "conditioner-off-an-oily-scalp")[0]
    dry = advisor.consult({"scalp": {"symptoms": ["tightness"]},
                           "routine": [{"product": "conditioner", "applied_to": ["scalp", "ends"]}]})
    assert "conditioner-off-an-oily-scalp" not in dry.fired_rules()


def test_a_scalp_serum_for_dry_hair_goes_on_after_the_hair_serum(advisor):
    """Item 14: damp-hair products first; a dry-application scalp serum once the hair has dried."""
    c = advisor.consult({"scalp": {"symptoms": ["flaking"]}, "goals": ["shine"]})
    order = c.wash_day_order

    def at(prefix):
        return next(i for i, s in enumerate(order) if s.startswith(prefix))
    assert at("Scalp serum made for damp hair") < at("Hair serum on damp lengths") \
        < at("Detangle") < at("Scalp serum made for dry hair")


@pytest.mark.parametrize("profile, topic, sources", [
    ({"routine": [{"product": "hair_serum", "hair_state": "dry"}]},
     "Hair serum on dry hair or on damp hair?", {"serum-vs-mask", "scalp-care"}),
    ({"goals": ["shine"]}, "Hair serum on dry hair or on damp hair?", {"serum-vs-mask", "scalp-care"}),
    ({"routine": [{"product": "hair_mask", "applied_to": ["scalp"]}]},
     "Does a hair mask go on the scalp?", {"serum-vs-mask", "scalp-care"}),
    ({"routine": [{"product": "hair_mask", "reactions": ["rash"]}]},
     "Are hair masks free of side effects and safe every day?", {"serum-vs-mask"}),
    ({"hair": {"concerns": ["damage"]}}, "Are hair masks free of side effects and safe every day?", {"serum-vs-mask"}),
    ({"hair": {"concerns": ["flatness"]}}, "Scalp serum before or after shampoo?", {"scalp-care", "scalp-serum-routine"}),
], ids=["x1-misuse", "x1-recommended", "x2-misuse", "x3-reaction", "x3-schedule", "x4-wash-day"])
def test_where_the_sources_disagree_the_advice_says_which_way_we_go(advisor, profile, topic, sources):
    data = advisor.consult(profile).to_json()
    conflict = next(c for c in data["conflicts"] if c["topic"] == topic)
    assert set(conflict["sources"]) == sources and conflict["resolution"]
    cited = {s.get("source") for a in data["advice"] for s in a["sources"]}
    assert sources <= cited


def test_no_conflict_is_listed_when_the_topic_does_not_come_up(advisor):
    assert advisor.consult({"scalp": {"symptoms": ["redness"]}}).conflicts == []


FORBIDDEN_CLAIMS = re.compile(r"\b(treats?|treating|treated|cures?|cured|regrows?|regrowth|heals?|healing)\b", re.I)
BRANDS = re.compile(r"\b(VEGAMOUR|GRO)\b", re.I)


@pytest.mark.parametrize("rule", SHIPPED.rules, ids=lambda r: r.id)
def test_rule_text_stays_cosmetic_and_names_no_brand(rule):
    for text in _texts(rule):
        assert not FORBIDDEN_CLAIMS.search(text), f"{rule.id}: medical claim in {text!r}"
        assert not BRANDS.search(text), f"{rule.id}: brand name in {text!r}"


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def test_rule_text_copies_no_run_of_nine_words_from_the_articles():
    folder = SHARED / "sources"
    if not folder.is_dir():
        pytest.skip("../shared/sources is not beside the repository")
    grams = set()
    for path in folder.glob("*.txt"):
        w = _words(path.read_text(encoding="utf-8"))
        grams.update(tuple(w[i:i + 9]) for i in range(len(w) - 8))
    copied = []
    for path in sorted((ROOT / "rules").rglob("*.yaml")):
        if path.name == "sources.yaml":   # the catalogue quotes article titles on purpose
            continue
        w = _words(path.read_text(encoding="utf-8"))
        copied += [f"{path.name}: {' '.join(w[i:i + 9])}" for i in range(len(w) - 8) if tuple(w[i:i + 9]) in grams]
    assert copied == []


def atoms_table(rulebook: Rulebook) -> str:
    """rules/ATOMS.md: each atom of the knowledge checklist and the rules that hold it."""
    lines = ["# Knowledge checklist -> rules", "",
             "Generated by tests/test_knowledge.py from the `atom-*` tags of the rules "
             "(regenerate: `UPDATE_ATOMS=1 pytest tests/test_knowledge.py -k atoms_table`).", "",
             "| atom | what | rules |", "| --- | --- | --- |"]
    for atom, what in ATOMS.items():
        ids = sorted(r.id for r in rulebook.rules if f"atom-{atom}" in r.tags)
        lines.append(f"| {atom.upper()} | {what} | {', '.join(f'`{i}`' for i in ids)} |")
    return "\n".join(lines) + "\n"


def test_atoms_table_is_up_to_date():
    path = ROOT / "rules" / "ATOMS.md"
    table = atoms_table(SHIPPED)
    if os.environ.get("UPDATE_ATOMS") == "1":
        path.write_text(table, encoding="utf-8")
    assert path.is_file() and path.read_text(encoding="utf-8") == table, \
        "rules/ATOMS.md is stale: UPDATE_ATOMS=1 pytest tests/test_knowledge.py -k atoms_table"


def _catalogue_untitled() -> dict:
    from haircare_expert import yamlio
    from haircare_expert.errors import RuleError
    data = yamlio.load_file(ROOT / "rules" / "sources.yaml", RuleError)
    return {s["id"]: dict(s.get("untitled") or {}) for s in data["sources"]}


def test_every_cited_section_heading_is_in_its_article_verbatim():
    """Issue #11: a citation names a heading the client can find in the article, word for word
    (or a verbatim part of a long one); an untitled part is found by its verbatim opening words."""
    folder = SHARED / "sources"
    if not folder.is_dir():
        pytest.skip("../shared/sources is not beside the repository")
    untitled = _catalogue_untitled()
    cited = {(s["source"], s["section"]) for r in SHIPPED.rules for s in r.sources if "source" in s}
    missing = []
    for source in SHIPPED.sources.values():
        # verbatim up to the kind of space: the articles use no-break spaces here and there
        text = " ".join((folder / source.file).read_text(encoding="utf-8").split(" ")).replace("\u00a0", " ")
        headings = [line.strip() for line in text.splitlines() if 0 < len(line.strip()) <= 100]
        paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
        for section in source.sections:
            if section in untitled[source.id]:
                opening = untitled[source.id][section]
                if not any(p.startswith(opening) for p in paragraphs):
                    missing.append(f"{source.id}: untitled {section!r} opens with {opening!r}: not found")
            elif not any(section in heading for heading in headings):
                missing.append(f"{source.id}: {section!r} is no heading of {source.file}")
    assert missing == []
    assert {sec for src, sec in cited} <= {sec for s in SHIPPED.sources.values() for sec in s.sections}


def test_every_vocabulary_value_has_a_client_label():
    """Issue #11: client text never shows a raw value ("pain_swelling"): each one has a label."""
    vocab = SHIPPED.vocabulary
    assert vocab.unlabelled() == []
    assert vocab.label("red-flag", "pain_swelling") == "pain or swelling on the scalp"
    assert vocab.label("hair-state", "heat_exposed") == "exposed to heat styling"
    assert vocab.label("applied_to", ("mid_lengths", "ends")) == "mid-lengths, ends"
    assert vocab.label("product", "unknown") == "not known"
    for rule in SHIPPED.rules:
        for text in (rule.advise, *rule.steps):
            assert "replace('_'" not in text, f"{rule.id}: raw value shown; use | label(field)"


def test_a_rule_testing_a_number_matches_that_number_not_a_boolean(rule_folder):
    """A rule written `per_week: 1` fires for a client who uses the product once a week (the
    predicate cache once handed it the one built for `True`, which never matched)."""
    from haircare_expert.consult.advisor import Advisor
    folder = rule_folder({"once.yaml": """
        id: once-a-week
        title: Once a week
        kind: note
        when: [{fact: uses, product: hair_mask, rinsed_out: true}, {fact: uses, product: hair_mask, per_week: 1}]
        then: {advise: Once a week.}
        because: A test rule.
        sources: [{own: true, note: test rule}]
    """})
    adv = Advisor(Rulebook.load(shipped=folder))
    assert "once-a-week" in adv.consult({"routine": [{"product": "hair_mask", "per_week": 1,
                                                      "rinsed_out": True}]}).fired_rules()
    assert "once-a-week" not in adv.consult({"routine": [{"product": "hair_mask", "per_week": 2,
                                                          "rinsed_out": True}]}).fired_rules()
