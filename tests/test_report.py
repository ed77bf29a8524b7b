"""The advice report in every format: what it shows, in what order, safely, and as golden files.

Golden files live in tests/golden/; after a deliberate change to the rules or templates,
regenerate them with ``UPDATE_GOLDEN=1 pytest tests/test_report.py -k golden`` and review the diff.
"""
from __future__ import annotations

import builtins
import os
import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, ROOT
from jinja2 import DictLoader

from haircare_expert.atomic import write_atomic
from haircare_expert.consult.advisor import Advisor
from haircare_expert.errors import ReportError
from haircare_expert.render import formats as report
from haircare_expert.render.formats import make_environment, render
from haircare_expert.render.view import describe_fact, report_view

#: The disclaimer every report prints: the text of the shipped disclaimer rule.
DISCLAIMER = " ".join(yaml.safe_load((ROOT / "rules" / "general" / "disclaimer.yaml").read_text())["then"]["advise"].split())

GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLE_DIR = ROOT / "facts" / "examples"
DRY = EXAMPLE_DIR / "dry-flaky-scalp.yaml"        # referrals, warnings, recommendations, week
RED = EXAMPLE_DIR / "red-flags.yaml"              # a doctor comes first
GOLDEN_PROFILES = [DRY, EXAMPLE_DIR / "frizzy-curls-heat.yaml", RED, EXAMPLE_DIR / "serum-misuse.yaml"]
TEXT_FORMATS = ("html", "md", "txt")


@pytest.fixture(scope="module")
def dry(advisor):
    return advisor.consult_file(DRY)


@pytest.fixture(scope="module")
def referral(advisor):
    return advisor.consult_file(RED)


def record(consultation, fmt, **options):
    """The consultant's record (these tests cover it; tests/test_handout.py covers the handout)."""
    return render(consultation, fmt, "consultant", **options)


def plain(text: str) -> str:
    """Report text with markup, escapes and line breaks flattened, for content checks."""
    text = re.sub(r"<[^>]+>", " ", text)
    text = text.replace("&ldquo;", "\u201c").replace("&rdquo;", "\u201d").replace("&#39;", "'")
    text = text.replace("&amp;", "&").replace("&quot;", '"')
    text = re.sub(r"\\([\\`*_\[\]|#~])", r"\1", text)
    text = re.sub(r"^\s*(!!|\||>)", " ", text, flags=re.M)
    return " ".join(text.split())


def position(text: str, needle: str) -> int:
    """Where ``needle`` first occurs in ``text``, ignoring case and line breaks (it must occur)."""
    index = text.lower().find(" ".join(needle.split()).lower())
    assert index >= 0, f"{needle!r} is missing from the report"
    return index


# -- content and order -------------------------------------------------------------------

@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_report_shows_the_content_list_in_order(dry, fmt):
    view = report_view(dry)
    text = plain(record(dry, fmt))
    alert = view["alerts"][0]
    rec = next(r for r in view["recommendations"] if r["howtos"])
    how = rec["howtos"][0]
    day = next(d for d in view["week"] if d["items"])
    marks = [position(text, "Ana Example"), position(text, "Sam Adviser"), position(text, "2026-11-22"),
             position(text, view["summary"][0]), position(text, alert["title"]), position(text, rec["title"]),
             position(text, how["title"]), position(text, how["steps"][0]), position(text, day["name"]),
             position(text, dry.wash_day_order[0]), position(text, dry.conflicts[0].topic),
             position(text, "Knowledge base " + dry.knowledge_base["version"]), position(text, DISCLAIMER),
             position(text, "why each line was given")]
    assert marks == sorted(marks), "the report sections are out of order"
    for entry in view["printed"]:
        if not entry["shown_as"]:  # a disclaimer note is folded into the disclaimer
            position(text, entry["title"])
            position(text, entry["because"])
    # Sources are shown by their catalogue titles, not only their ids.
    for source in view["cited_sources"]:
        assert source["title"] != source["id"]
        position(text, source["title"])
    position(text, dry.knowledge_base["fingerprint"][:19])


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_referrals_come_first_and_are_labelled_in_words(referral, fmt):
    text = plain(record(referral, fmt))
    refer = next(a for a in referral.advice if a.kind == "referral")
    other = next(a for a in referral.advice if a.kind != "referral")
    label = position(text, "See a doctor")
    assert position(text, "What we found") < label < position(text, refer.title) < position(text, other.title)
    assert "Signs that need a doctor: patchy or sudden hair loss" in text  # in the vocabulary's words


def test_html_sets_referrals_and_warnings_apart_with_a_border_and_label(dry):
    html = record(dry, "html")
    css = (ROOT / "reports" / "report.css").read_text(encoding="utf-8")
    assert '<article class="advice referral"' in html and '<article class="advice warning"' in html
    assert re.search(r"\.advice\.referral\s*{[^}]*border:", css)
    assert re.search(r"\.advice\.warning\s*{[^}]*border:", css)
    assert '<p class="label">' in html and "See a doctor</p>" in html


def test_html_is_made_for_a4_print_with_page_numbers_and_unsplit_blocks(dry):
    html = record(dry, "html")
    assert "size: A4" in html
    assert "counter(page)" in html and "counter(pages)" in html
    assert re.search(r"\.advice[^{]*{[^}]*break-inside: avoid", html)
    calendar = html[html.index('<table class="calendar">'):]
    assert calendar[:calendar.index("</table>")].count('<th scope="col"') == 7


def test_each_recommendation_is_followed_by_its_how_to_steps(dry):
    view = report_view(dry)
    facts = {f.id: f for f in dry.facts}
    for rec in view["recommendations"]:
        firing = next(t for t in dry.trace if t.seq == rec["advice"].fired)
        declared = {fid for fid in firing.declared if facts[fid].type == "recommend"}
        for how in rec["howtos"]:
            assert declared & set(how["advice"].matched_facts), (rec["rule"], how["rule"])
    paired = [r for r in view["recommendations"] if r["howtos"]]
    assert paired, "the example should pair at least one recommendation with its how-to"
    rec, how = paired[0], paired[0]["howtos"][0]
    md = record(dry, "md")
    assert re.search(rf"### {rec['n']}\. [^#]*#### {how['n']}\. ", md)
    assert how["n"] == rec["n"] + 1


PAIR_RULES = """\
rules:
  - id: rec-a
    title: Recommendation A
    kind: recommendation
    salience: 20
    when: [{fact: scalp, symptoms: {contains: flaking}}]
    then: {advise: Use a scalp serum., declare: [{recommend: scalp_serum}]}
    because: Flakes.
    sources: [{own: true, note: test}]
  - id: rec-b
    title: Recommendation B
    kind: recommendation
    salience: 10
    when: [{fact: scalp, symptoms: {contains: itching}}]
    then: {advise: A scalp serum helps here too., declare: [{recommend: scalp_serum}]}
    because: Itching.
    sources: [{own: true, note: test}]
  - id: how-serum
    title: How to apply it
    kind: how-to
    when: [{fact: recommend, product: scalp_serum}]
    then: {advise: Drops on the scalp., steps: [Part the hair., Massage it in.]}
    because: It works on the skin.
    sources: [{own: true, note: test}]
  - id: how-shampoo
    title: How to use your shampoo
    kind: how-to
    when: [{fact: uses, product: shampoo}]
    then: {advise: Lather at the roots.}
    because: Shampoo is for the scalp.
    sources: [{own: true, note: test}]
"""


def test_a_how_to_is_printed_once_under_the_first_recommendation_of_its_product(mini_advisor):
    advisor = mini_advisor(rules=PAIR_RULES)
    consultation = advisor.consult({"scalp": {"symptoms": ["flaking", "itching"]},
                                    "routine": [{"product": "shampoo"}]})
    view = report_view(consultation)
    pairs = {r["rule"]: [h["rule"] for h in r["howtos"]] for r in view["recommendations"]}
    assert pairs == {"rec-a": ["how-serum"], "rec-b": []}
    assert [h["rule"] for h in view["other_howtos"]] == ["how-shampoo"]
    text = record(consultation, "txt")
    assert text.count("How to apply it") == 2  # once in the body, once in the audit appendix
    assert text.index("Recommendation A") < text.index("How to apply it") < text.index("Recommendation B")
    assert "HOW TO USE YOUR PRODUCTS" in text


def test_a_report_without_any_advice_still_carries_summary_disclaimer_and_kb(mini_advisor):
    advisor = mini_advisor(rules=PAIR_RULES)
    consultation = advisor.consult({"client": {"name": "Quiet Client"}, "scalp": {"symptoms": []}})
    assert consultation.advice == []
    for fmt in TEXT_FORMATS:
        text = plain(record(consultation, fmt))
        marks = [position(text, "Quiet Client"), position(text, "Nothing in your answers calls for a change"),
                 position(text, "Knowledge base"), position(text, DISCLAIMER)]
        assert marks == sorted(marks)
        assert "(not given)" in text  # no consultant, no date


def test_audit_appendix_names_rule_matched_facts_with_origin_and_sources(dry):
    view = report_view(dry)
    derived = next(e for e in view["printed"] if e["answers"])
    for fmt in TEXT_FORMATS:
        text = plain(record(dry, fmt))
        appendix = text[position(text, "why each line was given"):]
        for advice in dry.advice:
            position(appendix, advice.rule)
        position(appendix, "(your answer: routine, product 1)")
        position(appendix, "(concluded by rule ")
        position(appendix, "From your answers: " + derived["answers"][0])
        position(appendix, "serum-vs-mask: \u201cWhat are the side effects of hair serum?\u201d")


def test_a_consultation_without_its_rulebook_still_renders_with_source_ids(dry):
    import dataclasses
    bare = dataclasses.replace(dry, rulebook=None)
    text = plain(record(bare, "txt"))
    position(text, "serum-vs-mask, section \u201cWhat are the side effects of hair serum?\u201d")
    assert "Hair Serum Vs. Hair Mask - Know the Difference" not in text
    position(text, DISCLAIMER)


def test_matched_facts_are_described_in_words_with_where_they_came_from(dry):
    scalp = next(f for f in dry.facts if f.type == "scalp")
    assert describe_fact(scalp) == "scalp symptoms: flaking, itching, soreness (your answer: scalp)"


def test_txt_report_wraps_to_90_columns(dry, referral):
    for consultation in (dry, referral):
        lines = record(consultation, "txt").splitlines()
        assert max(len(line) for line in lines) <= 90


def test_custom_rules_and_source_conflicts_are_reported(rule_folder, tmp_path):
    folder = rule_folder({"custom/serum-frequency.yaml": """\
        id: custom-serum-frequency
        title: How often a scalp serum goes on
        kind: note
        when:
          - fact: scalp
            symptoms: {contains: flaking}
        then:
          advise: Two or three evenings a week is enough for most scalps.
        conflict:
          topic: How often to use a scalp serum
          sources: [scalp-serum-routine, scalp-care]
          resolution: We suggest two or three times a week and more only if the scalp stays dry.
        because: A salon's own house guidance on serum frequency.
        sources:
          - {source: scalp-serum-routine, section: Closing}
        """})
    consultation = Advisor(extra_rules=[folder]).consult_file(DRY)
    assert consultation.knowledge_base.get("custom")
    for fmt in TEXT_FORMATS:
        text = plain(record(consultation, fmt))
        assert "Custom rules were used." in text
        position(text, "Rules added by the custom folder(s): custom-serum-frequency.")
        sources = position(text, "Where the sources disagree")
        assert position(text, "How often to use a scalp serum") > sources
        position(text, "Your Scalp Just As Important As Your Skin / Scalp Care Is Self Care")
        position(text, "We suggest two or three times a week")
        assert "custom rule" in text[position(text, "why each line was given"):]


# -- safety --------------------------------------------------------------------------------

def test_client_text_is_escaped_never_executed(advisor):
    profile = {"client": {"name": "<script>alert('x')</script> *Eve*", "consultant": "A & B"},
               "scalp": {"symptoms": ["flaking"]}}
    consultation = advisor.consult(profile)
    html = record(consultation, "html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "A &amp; B" in html
    md = record(consultation, "md")
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert r"\*Eve\*" in md


def test_a_template_typo_is_a_report_error_not_a_blank(dry, monkeypatch):
    env = make_environment(DictLoader({"report.txt.j2": "Client: {{ client.name }}\n{{ clinet.name }}\n"}))
    monkeypatch.setattr(report, "_ENV", env)
    with pytest.raises(ReportError) as info:
        record(dry, "txt")
    assert info.value.where == "reports/report.txt.j2:2"
    assert "clinet" in info.value.what


def test_a_broken_template_is_a_report_error(dry, monkeypatch):
    monkeypatch.setattr(report, "_ENV", make_environment(DictLoader({"report.md.j2": "{% if %}"})))
    with pytest.raises(ReportError, match="template error"):
        record(dry, "md")


def test_an_unknown_format_is_a_report_error(dry):
    with pytest.raises(ReportError, match="formats: json, txt, md, html, pdf"):
        record(dry, "docx")


@pytest.mark.parametrize("failure", [ImportError("No module named 'weasyprint'"),
                                     OSError("cannot load library 'libpango-1.0-0'")])
def test_pdf_without_weasyprint_or_pango_is_a_clear_report_error(dry, monkeypatch, failure):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "weasyprint":
            raise failure
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ReportError) as info:
        record(dry, "pdf")
    assert info.value.where == "pdf"
    assert str(failure) in info.value.what
    assert "pip install weasyprint" in info.value.what


# -- PDF -----------------------------------------------------------------------------------

def test_pdf_has_pages_with_the_client_name_and_the_disclaimer(referral):
    pypdf = pytest.importorskip("pypdf", reason="reading the PDF back needs pypdf (pip install .[test])")
    import io
    data = record(referral, "pdf")
    assert data.startswith(b"%PDF")
    pages = pypdf.PdfReader(io.BytesIO(data)).pages
    assert len(pages) >= 1
    text = " ".join(" ".join(page.extract_text().split()) for page in pages)
    assert "Ivo Redflag" in text
    assert "not a medical diagnosis" in text
    assert f"Page 1 of {len(pages)}" in text


def test_cli_writes_a_pdf_report(tmp_path):
    from click.testing import CliRunner

    from haircare_expert.cli import main
    out = tmp_path / "ana.pdf"
    result = CliRunner().invoke(main, ["advise", str(DRY), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")


def test_written_reports_get_ordinary_file_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "r.html", "<p>x</p>")
    finally:
        os.umask(old)
    assert (tmp_path / "r.html").stat().st_mode & 0o777 == 0o644


# -- golden files ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["md", "txt"])
@pytest.mark.parametrize("audience", ["client", "consultant"])
@pytest.mark.parametrize("profile", GOLDEN_PROFILES, ids=lambda p: p.stem)
def test_golden_reports(advisor, profile, audience, fmt):
    """The handout and the record, in Markdown and text, match tests/golden/ (UPDATE_GOLDEN=1
    rewrites them): a change to what a client or a consultant reads is always reviewed."""
    # the KB fingerprint changes with any rule edit, even one these clients never see
    text = re.sub(r"sha256:[0-9a-f]+", "sha256:<fingerprint>",
                  render(advisor.consult_file(profile), fmt, audience))
    kind = "handout" if audience == "client" else "record"
    golden = GOLDEN / f"{profile.stem}.{kind}.{fmt}"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}: run UPDATE_GOLDEN=1 pytest {__file__} -k golden"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if the change is intended, regenerate with "
        "UPDATE_GOLDEN=1 pytest tests/test_report.py -k golden and review the diff")


def test_every_example_profile_renders_in_every_text_format(advisor):
    for example in EXAMPLES:
        consultation = advisor.consult_file(example)
        for fmt in TEXT_FORMATS:
            assert DISCLAIMER.split(".")[0] in plain(record(consultation, fmt))
