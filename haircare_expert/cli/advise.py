"""haircare advise | batch | compare: reports and tables from the rules."""
from __future__ import annotations

import sys

import click

from haircare_expert.cli.base import (
    advisor,
    emit,
    format_option,
    main,
    refuse_same_files,
    rulebook,
    rules_option,
)


@main.command()
@click.argument("profile", type=click.Path(dir_okay=False))
@format_option("html", "pdf", "md", "txt", "json", default=None,
               help="Report format (default: from the -o extension, else txt).")
@click.option("--for", "audience", type=click.Choice(["client", "consultant"]), default="client",
              show_default=True, help="The client's handout (1-2 pages, no rule ids) or the "
              "consultant's record (every line with its rule, facts and sources, and the audit appendix).")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the report to this file (atomically) instead of stdout ('-': stdout); its "
              "extension names the format unless --format does.")
@rules_option
def advise(profile, fmt, audience, output, rules_dirs):
    """Print the advice for the client described in PROFILE (YAML or JSON): her handout, or
    with --for consultant the consultant's record."""
    from haircare_expert.errors import ReportError
    from haircare_expert.render.formats import format_for, render
    refuse_same_files([("PROFILE", profile)], [("-o", output)])
    if not fmt:
        try:
            fmt = format_for(output)
        except ReportError as exc:
            raise click.UsageError(exc.what) from None
    if fmt == "pdf" and not output:
        raise click.UsageError("a PDF report needs -o FILE")
    consultation = advisor(rules_dirs).consult_file(profile)
    emit(render(consultation, fmt, audience), output)


# -- haircare batch: many profiles, JSON lines in and out (the work is in batch.py) ------------
@main.command()
@click.argument("profiles", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Write the results here: one advice JSON per line, in input order "
                   "('-': stdout).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes (each compiles the rules once).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Run on this Dask cluster (e.g. tcp://host:8786); the output is the same.")
@rules_option
def batch(profiles, output, jobs, scheduler, rules_dirs):
    """Advise every profile in PROFILES (JSON lines: one profile object per line).

    Each output line is the JSON of 'haircare advise --format json', compact, in input order.
    A bad line stops the batch with an error naming FILE:LINE, and no output file is written.
    """
    from haircare_expert.atomic import is_stdout
    from haircare_expert.consult import batch as batching
    from haircare_expert.engine.freeze import freeze_compiled
    refuse_same_files([("PROFILES", profiles)], [("-o", output)])
    to_stdout = is_stdout(output)
    options = dict(advisor=advisor(rules_dirs), rules_dirs=rules_dirs, jobs=jobs, scheduler=scheduler)
    freeze_compiled()   # the compiled rules live as long as the batch: keep the GC off them
    target = sys.stdout.buffer if to_stdout else output
    if not sys.stderr.isatty():
        result = batching.run(profiles, target, **options)
    else:
        with click.progressbar(length=batching.count_lines(profiles), label="Advising",
                               file=sys.stderr) as bar:
            result = batching.run(profiles, target, **options,
                                  progress=lambda done: bar.update(done - bar.pos))
    click.echo(f"{result.profiles} profile(s) advised; written to "
               f"{'stdout' if to_stdout else output}", err=True)


@main.command()
@click.argument("products", nargs=-1, required=True)
@format_option("txt", "md", "json", default="txt")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the table to this file (atomically) instead of stdout ('-': stdout).")
@rules_option
def compare(products, fmt, output, rules_dirs):
    """Compare products side by side, e.g. `haircare compare hair_serum hair_mask`.

    The table (what it is, what it does, benefits, when to use it, side effects, how to use
    it) is generated from the product knowledge in the rules, with the rules and sources used.
    """
    from haircare_expert.render.compare import compare as build
    from haircare_expert.render.compare import render
    if len(products) < 2:
        raise click.UsageError("name at least two products to compare, e.g. hair_serum hair_mask")
    emit(render(build(rulebook(rules_dirs), products), fmt), output)
