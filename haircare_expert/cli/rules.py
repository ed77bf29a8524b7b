"""haircare rules list | show | lint | test: tools for whoever maintains the rules."""
from __future__ import annotations

import click

from haircare_expert.cli.base import advisor, format_option, main, rulebook, rules_option
from haircare_expert.errors import ExitCode
from haircare_expert.model import RULE_KINDS

# -- knowledge-base tools: haircare rules list | show | lint | test ----------------------------
FORMAT_OPTION = format_option("text", "json")


def _json(data) -> None:
    import json
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


@main.group()
def rules():
    """Knowledge-base tools for whoever maintains the rules: list, show, lint, test."""


@rules.command("list")
@click.option("--tag", "tags", multiple=True, help="Only rules with this tag (repeatable: all must match).")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(RULE_KINDS), help="Only rules of this kind (repeatable: any may match).")
@FORMAT_OPTION
@rules_option
def rules_list(tags, kinds, fmt, rules_dirs):
    """List the rules (id, kind, title, sources); + marks your own, * a replaced one."""
    book = rulebook(rules_dirs)
    chosen = [r for r in book.rules if set(tags) <= set(r.tags) and (not kinds or r.kind in kinds)]
    rows = [{"id": r.id, "kind": r.kind, "title": r.title, "origin": r.origin,
             "sources": sorted({s.get("source", "own") for s in r.sources}), "tags": list(r.tags),
             "where": r.location} for r in chosen]
    if fmt == "json":
        return _json({"rules": rows, "count": len(rows)})
    mark = {"shipped": " ", "custom": "+", "override": "*"}
    width = max([len(r["id"]) for r in rows] + [2])
    for row in rows:
        click.echo(f"{mark[row['origin']]} {row['id']:<{width}}  {row['kind']:<14}  {row['title']}"
                   f"  [{', '.join(row['sources'])}]")
    click.echo(f"{len(rows)} of {len(book)} rules")


@rules.command("show")
@click.argument("rule_id")
@FORMAT_OPTION
@rules_option
def rules_show(rule_id, fmt, rules_dirs):
    """Show a rule as written, in words, and what feeds it and uses it."""
    from haircare_expert.knowledge.lint import render_rule_info, rule_info
    info = rule_info(rulebook(rules_dirs), rule_id)
    if fmt == "json":
        return _json(info)
    click.echo(render_rule_info(info), nl=False)


@rules.command("lint")
@FORMAT_OPTION
@rules_option
def rules_lint(fmt, rules_dirs):
    """Check the rules for mistakes; exit 1 on errors.

    Errors: rules that do not load (file:line), rules that can never fire, rules that always
    give opposite advice. Warnings: alternatives that can never hold, conclusions and
    questions nothing uses, advice that can clash on some profiles, rules without examples.
    """
    from haircare_expert.knowledge.lint import lint, render_lint
    report = lint(rules_dirs)
    if fmt == "json":
        _json(report.to_json())
    else:
        click.echo(render_lint(report), nl=False)
    if not report.ok:
        click.get_current_context().exit(int(ExitCode.CHANGED))


@rules.command("test")
@click.option("--examples", "examples_dir", type=click.Path(exists=True, file_okay=False),
              help="Folder of example profiles (default: the shipped facts/examples), with an "
                   "optional expected.yaml: file -> {fires: [ids], silent: [ids]}.")
@click.option("-q", "--quiet", is_flag=True, help="List failed cases only.")
@FORMAT_OPTION
@rules_option
def rules_test(examples_dir, quiet, fmt, rules_dirs):
    """Run the rules' examples and the example profiles; exit 1 if one fails.

    Also reports coverage: rules never fired, rules with no silent case, alternatives of 'any'
    never taken, and conditions no case shows to matter.
    """
    from haircare_expert.knowledge.ruletest import render_text, run_tests
    report = run_tests(advisor(rules_dirs), examples=examples_dir)
    if fmt == "json":
        _json(report.to_json())
    else:
        click.echo(render_text(report, quiet), nl=False)
    if not report.ok:
        click.get_current_context().exit(int(ExitCode.CHANGED))
