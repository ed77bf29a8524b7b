"""The client's handout: what she is handed (her plan, her week, in her words, on two pages at
most) and what she is never handed (rule ids, fingerprints, raw vocabulary values)."""
from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, ROOT

from haircare_expert.cli import main
from haircare_expert.model import PlanStep
from haircare_expert.render.formats import render
from haircare_expert.render.handout import handout_view

DRY = ROOT / "facts" / "examples" / "dry-flaky-scalp.yaml"
TEXT_FORMATS = ("html", "md", "txt")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: str) -> str:
    """Report text with markup and escapes flattened, for content checks."""
    text = re.sub(r"<style>.*?</style>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    text = text.replace("&amp;", "&").replace("&#39;", "'").replace("&quot;", '"')
    text = re.sub(r"\\([\\`*_\[\]|#~])", r"\1", text)
    return " ".join(text.split())


def pdf_pages(data: bytes) -> list[str]:
    pypdf = pytest.importorskip("pypdf", reason="reading the PDF back needs pypdf (pip install .[test])")
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def rule_ids(advisor) -> set[str]:
    return set(advisor.rulebook.by_id)


def raw_values(advisor) -> set[str]:
    """Vocabulary values a client must never read as such: the ids (``pain_swelling``) and, where
    the vocabulary words them differently, the ids with spaces (``mid lengths``) unless the rules'
    own prose uses the phrase as plain English ("a healthy scalp")."""
    vocabulary = advisor.rulebook.vocabulary
    prose = " ".join(" ".join([r.title, r.advise, r.because, *r.steps]) for r in advisor.rulebook.rules).lower()
    found: set[str] = set()
    for type_name, ftype in vocabulary.types.items():
        for name, spec in ftype.fields.items():
            for value in spec.values:
                if isinstance(value, str) and "_" in value:
                    found.add(value)
                    spaced = value.replace("_", " ")
                    if vocabulary.label(f"{type_name}.{name}", value) != spaced and spaced not in prose:
                        found.add(spaced)
    return found


@pytest.fixture(scope="module")
def dry(advisor):
    return advisor.consult_file(DRY)


def with_plan(consultation, steps):
    return dataclasses.replace(consultation, plan=steps)


DRY_PLAN = [
    PlanStep(1, "Keep your hair serum off the scalp", "hair_serum", "change", False, 1,
             "hair-serum-not-on-scalp", "Serum on the scalp can cause a rash."),
    PlanStep(2, "Pause your scalp products", None, "pause", False, 1,
             "red-flag-pause-scalp-product", "Until a doctor has seen your scalp."),
    PlanStep(3, "Add a leave-in conditioner after washing", "leave_in_conditioner", "add", True, 1,
             "recommend-leave-in-conditioner", "It keeps the lengths soft and easy to comb."),
    PlanStep(4, "Add a hair mask on wash days", "hair_mask", "add", True, 3,
             "recommend-hair-mask", "It puts moisture back into dry lengths."),
]


# -- every example: two pages at most, nothing for the auditor --------------------------------

def test_every_example_handout_prints_on_one_or_two_pages_without_rule_ids(advisor):
    """A consultant can hand every example client a PDF of at most two A4 pages that names no
    rule, no fingerprint and no raw vocabulary value."""
    ids, raw = rule_ids(advisor), raw_values(advisor)
    for example in EXAMPLES:
        consultation = advisor.consult_file(example)
        pages = pdf_pages(render(consultation, "pdf"))
        assert 1 <= len(pages) <= 2, f"{example.name}: {len(pages)} pages"
        texts = [" ".join(pages)] + [plain(render(consultation, fmt)) for fmt in TEXT_FORMATS]
        for text in texts:
            assert "sha256" not in text and "fingerprint" not in text.lower(), example.name
            words = set(re.findall(r"[a-z0-9]+(?:[-_][a-z0-9]+)+", text))
            assert not words & ids, f"{example.name}: rule ids {sorted(words & ids)}"
            shown = [v for v in raw if re.search(rf"\b{re.escape(v)}\b", text.lower())]
            assert not shown, f"{example.name}: raw vocabulary values {sorted(shown)}"
        assert "not a medical diagnosis" in texts[0]


def test_the_consultant_record_keeps_every_fired_rule_in_its_appendix(advisor):
    """--for consultant is the auditor's record: every rule that fired is named in it."""
    for example in EXAMPLES[:6]:
        consultation = advisor.consult_file(example)
        text = plain(render(consultation, "txt", "consultant"))
        appendix = text[text.index("WHY EACH LINE WAS GIVEN"):]
        for rule in {a.rule for a in consultation.advice}:
            assert rule in appendix, (example.name, rule)
        assert "sha256:" in text


def test_the_json_record_is_the_same_for_both_audiences(dry):
    """The JSON is the audit record whoever the report is for."""
    assert render(dry, "json", "client") == render(dry, "json", "consultant")


# -- the plan ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_the_plan_comes_after_referrals_with_how_to_week_and_why(dry, fmt):
    """The client reads her referral first, then each plan step in order with its start week,
    its how-to where she needs it and a short why; then the week, the wash-day order, the
    consultant's line and the disclaimer."""
    text = plain(render(with_plan(dry, DRY_PLAN), fmt))
    order = ["A sore scalp or a rash - see a dermatologist", "Your plan",
             "Keep your hair serum off the scalp", "Serum on the scalp can cause a rash.",
             "Pause your scalp products", "Add a leave-in conditioner after washing",
             "Work a small amount through the lengths", "Add a hair mask on wash days",
             "Your week", "On wash days, in this order", "Your consultant", "Next visit",
             "not a medical diagnosis"]
    marks = [text.lower().find(x.lower()) for x in order]
    assert -1 not in marks, [x for x, m in zip(order, marks) if m == -1]
    assert marks == sorted(marks)
    step4 = text[text.index("Add a hair mask on wash days"):]
    assert re.match(r"Add a hair mask on wash days\W+(\(\s*)?From week 3", step4), step4[:80]
    assert "Shampoo, then rinse the shampoo out." in step4  # the mask's how-to comes with it


def test_a_paused_step_gets_no_how_to(dry):
    """A product the plan pauses is not explained as if she should use it."""
    view = handout_view(with_plan(dry, DRY_PLAN))
    paused = next(s for s in view["steps"] if s["action"] == "pause")
    assert paused["how"] == [] and paused["action_label"] == "Pause"


def test_without_a_plan_the_handout_lists_the_habits_then_the_products(dry):
    """A record made before the plan stage still gives a handout: habits to change, then products."""
    view = handout_view(dataclasses.replace(dry, plan=[]))
    actions = [s["action"] for s in view["steps"]]
    assert actions == sorted(actions, key=lambda a: a != "change") and "change" in actions and "use" in actions


def test_a_plan_too_long_for_two_pages_says_what_waits_for_the_next_visit(dry):
    """When the plan cannot fit two pages, the later steps wait for the next visit and the
    handout says so; the type is never shrunk."""
    rules = ["recommend-leave-in-conditioner", "recommend-hair-mask", "recommend-heat-protection"]
    long_plan = [PlanStep(i, f"Step number {i} of a very long plan", None, "add", True, 1 + i // 6,
                          rules[i % 3], "Because this is a test of a long plan. " * 3)
                 for i in range(1, 31)]
    data = render(with_plan(dry, long_plan), "pdf")
    pages = pdf_pages(data)
    assert len(pages) == 2
    text = " ".join(pages)
    assert "For your next visit" in text
    assert "Step number 1 of a very long plan" in text
    assert "Step number 30 of a very long plan" in text  # named in the next-visit list
    css = (ROOT / "reports" / "handout.css").read_text(encoding="utf-8")
    assert "10.5pt/1.32" in css


def test_a_deferred_how_to_tells_a_kept_product_apart_from_a_new_one(advisor):
    """When a how-to waits for the next visit, a product she already uses is not one "we will
    show you": she knows it already; a new product is the one we will show her."""
    c = advisor.consult_file(ROOT / "facts" / "examples" / "serum-misuse.yaml")
    hows = sum(1 for s in handout_view(c)["steps"] if s["how"])  # the how-tos wait first
    view = handout_view(c, defer=hows)
    later = {s["action"]: s["how_later"] for s in view["steps"] if s["how_later"]}
    assert later["add"].startswith("How to go about it: we will show you")
    assert later["keep"].startswith("You know this product already")
    assert all(not s["how"] for s in view["steps"] if s["how_later"])
    for fmt in ("md", "txt"):
        text = plain(render(c, fmt))
        assert "we will show you at your next visit" not in text  # nothing deferred off the PDF
    pdf = " ".join(pdf_pages(render(c, "pdf")))
    assert "You know this product already" in pdf and "Keep using your hair serum" in pdf
    assert not re.search(r"Keep using[^.]*?How to go about it: we will show you", pdf)


def test_body_text_is_never_below_10pt():
    """Everything the client reads as text is 10pt or larger; only labels, superscripts, page
    footers and source notes are smaller."""
    css = (ROOT / "reports" / "handout.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"@page\s*{.*?\n}", "", css, flags=re.S)
    small_ok = {"sup.ref", ".step .action", ".washmark", "ol.notes"}
    for selector, body in re.findall(r"([^{}]+){([^{}]*)}", css):
        for size in re.findall(r"font(?:-size)?:\s*([\d.]+)pt", body):
            if float(size) < 10:
                assert selector.strip() in small_ok, (selector.strip(), size)


# -- the week -----------------------------------------------------------------------------------

def test_the_week_is_a_tick_chart_with_wash_days_marked(dry):
    """Each item is one row with a mark on the days it is used; wash days are labelled."""
    view = handout_view(dry)
    rows = {r["item"]: r["days"] for r in view["week"]["rows"]}
    for day, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun")):
        for item in dry.schedule[name]:
            assert rows[item][day]
    txt = render(dry, "txt")
    assert "| wash |" in txt and " X   |" in txt


def test_an_unknown_wash_count_marks_no_wash_day_and_says_so(advisor):
    """When she did not say how often she washes, the week does not pretend to know."""
    consultation = advisor.consult({"habits": {"washes_per_week": "unknown"},
                                    "hair": {"concerns": ["dryness"]}, "scalp": {"symptoms": []}})
    view = handout_view(consultation)
    assert not any(d["wash"] for d in view["week"]["days"])
    assert re.search(r"did not (tell us|say) how often you wash", plain(render(consultation, "txt")))


# -- since the last visit ----------------------------------------------------------------------

@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_a_follow_up_shows_what_changed_since_the_last_visit(dry, fmt):
    """A returning client reads what has gone, what is new and what the plan changed, before
    her plan."""
    followup = SimpleNamespace(previous_date="2026-10-01", gone=["Flaking"], new=["Itching"],
                               started=["A leave-in conditioner"], stopped=["Daily hair serum"],
                               plan_changes=["The hair mask now starts in week 3"])
    text = plain(render(dataclasses.replace(with_plan(dry, DRY_PLAN), followup=followup), fmt))
    since = text.lower().index("since your last visit")
    assert since < text.index("Your plan" if fmt != "txt" else "YOUR PLAN")
    for line in ("2026-10-01", "Flaking", "Itching", "A leave-in conditioner", "Daily hair serum",
                 "The hair mask now starts in week 3"):
        assert line in text[since:]
    assert "since your last visit" not in plain(render(dry, fmt)).lower()


# -- client text is shown, never acted on -------------------------------------------------------

NASTY = "Eve\nForged: line\x1b[2J\x07\x00 \u202eevil\u2066 Smith"


@pytest.mark.parametrize("audience", ["client", "consultant"])
@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_control_characters_in_names_never_reach_a_report(advisor, fmt, audience):
    """A newline, escape sequence, bell, NUL or bidi override typed into a name cannot forge a
    line, drive a terminal or reorder the page: the name prints on one line."""
    consultation = advisor.consult({"client": {"name": NASTY, "consultant": "Sam\r\nAdviser"},
                                    "scalp": {"symptoms": ["flaking"]}})
    text = render(consultation, fmt, audience)
    assert not CONTROL.search(text)
    assert not any(line.startswith("Forged") for line in text.splitlines())
    assert "Eve Forged: line[2J evil Smith" in plain(text).replace("\\", "")


def test_the_json_record_keeps_the_name_with_the_controls_escaped(advisor):
    """The audit record loses nothing, yet prints no raw control or bidi character."""
    consultation = advisor.consult({"client": {"name": NASTY}, "scalp": {"symptoms": ["flaking"]}})
    text = render(consultation, "json")
    assert not CONTROL.search(text)
    assert "\\u202e" in text
    assert json.loads(text)["client"]["name"] == NASTY


def test_a_pdf_with_names_in_many_scripts_keeps_stderr_clean(advisor, capfd, caplog):
    """Names in Cyrillic, Greek, Arabic, Hebrew, Devanagari, Thai or CJK print without a word on
    stderr (the fonts cover what is installed; WeasyPrint's messages are kept off stderr)."""
    name = "Ана Ελένη محمد שרה देवी สมชาย 李小龍"
    consultation = advisor.consult({"client": {"name": name, "consultant": "Zoë"},
                                    "scalp": {"symptoms": ["flaking"]}})
    with caplog.at_level(logging.WARNING):
        for audience in ("client", "consultant"):
            assert render(consultation, "pdf", audience).startswith(b"%PDF")
    assert capfd.readouterr().err == ""
    assert not [r for r in caplog.records if r.name.startswith("weasyprint")]


# -- the command line ---------------------------------------------------------------------------

def test_advise_writes_the_handout_by_default_and_the_record_on_request(tmp_path):
    """`advise -o h.pdf` is the client's handout; `--for consultant` is the record."""
    handout, record = tmp_path / "h.pdf", tmp_path / "r.txt"
    runner = CliRunner()
    result = runner.invoke(main, ["advise", str(DRY), "-o", str(handout)])
    assert result.exit_code == 0, result.output
    assert 1 <= len(pdf_pages(handout.read_bytes())) <= 2
    result = runner.invoke(main, ["advise", str(DRY), "--for", "consultant", "-o", str(record)])
    assert result.exit_code == 0, result.output
    assert "WHY EACH LINE WAS GIVEN" in record.read_text(encoding="utf-8")


def test_an_unknown_output_extension_is_a_usage_error_listing_the_formats(tmp_path):
    """`-o report.docx` is refused (exit 2) with the formats it could have been; nothing is written."""
    target = tmp_path / "report.docx"
    result = CliRunner().invoke(main, ["advise", str(DRY), "-o", str(target)])
    assert result.exit_code == 2
    assert "unknown report format '.docx'" in result.output
    assert "json, txt, md, html, pdf" in result.output
    assert not target.exists()


@pytest.mark.parametrize("command", [["advise", str(DRY)], ["trace", str(DRY)],
                                     ["explain", str(DRY), "hair-serum-not-on-scalp"],
                                     ["compare", "hair_serum", "hair_mask"], ["rules", "list"]])
def test_format_txt_and_text_are_the_same_everywhere(command):
    """Every command that takes --format accepts both `txt` and `text`, with the same output."""
    runner = CliRunner()
    outputs = []
    for name in ("txt", "text"):
        result = runner.invoke(main, [*command, "--format", name])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert outputs[0] == outputs[1]

