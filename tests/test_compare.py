"""`haircare compare`: the side-by-side product table is generated from the rules (every cell traceable to a rule), in text, Markdown and JSON."""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from haircare_expert.cli import main
from haircare_expert.errors import NotFoundError
from haircare_expert.knowledge.rulebook import Rulebook
from haircare_expert.render.compare import FACETS, compare, known_products, render

BOOK = Rulebook.load()


def test_serum_and_mask_are_compared_on_every_facet():
    c = compare(BOOK, ["hair_serum", "hair_mask"])
    rows = c.rows()
    assert [label for label, _ in rows] == [label for _, label in FACETS]
    for label, cells in rows:
        assert all(cells), f"{label} is empty for a product"


def test_every_cell_comes_from_a_rule():
    c = compare(BOOK, ["hair_serum", "hair_mask"])
    serum = c.products[0]
    about, how = (BOOK.get(rule_id) for rule_id in serum.rules)
    assert serum.facets["what_it_is"] == [about.advise]
    assert serum.facets["how_to_use"] == list(how.steps)
    assert "product:hair_serum" in about.tags and how.kind == "how-to"
    assert any(s.get("section") == "How to apply hair serum?" for s in serum.sources)


def test_every_product_with_knowledge_has_all_facets():
    products = known_products(BOOK)
    assert {"hair_serum", "hair_mask", "scalp_serum"} <= set(products)
    for product in products:
        sheet = compare(BOOK, [product, product]).products[0]
        assert all(sheet.facets.get(key) for key, _ in FACETS), product


def test_product_names_are_accepted_with_hyphens_or_spaces():
    assert [p.product for p in compare(BOOK, ["hair-serum", "Scalp Serum"]).products] == ["hair_serum", "scalp_serum"]


def test_an_unknown_product_is_not_found_and_the_known_ones_are_listed():
    with pytest.raises(NotFoundError, match="known products: hair_mask, hair_serum, scalp_serum"):
        compare(BOOK, ["hair_serum", "shampoo"])


def test_a_consultants_own_rule_adds_a_product_to_compare(rule_folder):
    folder = rule_folder({"oil.yaml": """
        id: about-hair-oil
        title: What a hair oil is
        kind: note
        tags: [product-knowledge, "product:hair_oil"]
        when: [{fact: recommend, product: hair_mask}]
        then:
          advise: An oil for the lengths.
          steps: ["What it does: softens.", "Benefits: shine; softness", "When to use it: after washing.", "Side effects: none known."]
        because: x
        sources: [{own: true, note: test}]
        """}, with_sources=False)
    c = compare(Rulebook.load(extra=[folder]), ["hair_oil", "hair_serum"])
    assert c.products[0].facets["benefits"] == ["Shine.", "Softness."]
    assert c.products[0].facets.get("how_to_use") is None
    assert re.search(r"^\| How to use it +\| - +\| 1\. ", render(c, "txt"), re.M)


def test_text_table_fits_the_width_and_names_its_rules():
    text = render(compare(BOOK, ["hair_serum", "hair_mask"]), "txt", width=100)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "What it is" in text and "about-hair-serum, hair-serum-how-to" in text
    assert "serum-vs-mask" in text


def test_markdown_and_json_outputs():
    c = compare(BOOK, ["hair_serum", "hair_mask"])
    md = render(c, "md")
    assert "| **Side effects** |" in md and md.count("\n|") >= 8
    data = json.loads(render(c, "json"))
    assert data["schema"] == "haircare-compare/1"
    assert [p["product"] for p in data["products"]] == ["hair_serum", "hair_mask"]
    assert data["knowledge_base"]["fingerprint"] == BOOK.fingerprint


def test_cli_compare_prints_the_table_and_maps_errors():
    runner = CliRunner()
    ok = runner.invoke(main, ["compare", "hair_serum", "hair_mask"])
    assert ok.exit_code == 0 and "HAIR SERUM vs HAIR MASK" in ok.output
    as_json = runner.invoke(main, ["compare", "hair_serum", "hair_mask", "--format", "json"])
    assert json.loads(as_json.output)["rows"][0]["facet"] == "What it is"
    unknown = runner.invoke(main, ["compare", "hair_serum", "conditioner"])
    assert unknown.exit_code == 5 and "known products" in unknown.output
    one = runner.invoke(main, ["compare", "hair_serum"])
    assert one.exit_code == 2
