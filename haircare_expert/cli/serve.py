"""haircare serve: the consultation in a browser, served by waitress."""
from __future__ import annotations

import click

from haircare_expert.cli.base import main, rules_option

DEFAULT_PORT = 8337


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but this machine (127.0.0.1, ::1, localhost) "
                   "needs a password.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--db", "db_url", envvar="HAIRCARE_DB",
              help="The records database URL (default: $HAIRCARE_DB, else a SQLite file in your "
                   "user data folder).")
@click.option("--password-file", type=click.Path(dir_okay=False),
              help="A file holding the password's salted hash (write one with --hash-password); "
                   "also $HAIRCARE_PASSWORD_FILE. $HAIRCARE_PASSWORD sets a password directly.")
@click.option("--hash-password", "hash_only", is_flag=True,
              help="Ask for a password, print the line for a password file, and exit.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Requests handled at once.")
@rules_option
def serve(host, port, db_url, password_file, hash_only, threads, rules_dirs):
    """Run the consultation in a browser: one question per screen, a review screen, the
    handout and the record at the end, every answer saved in the records at once.

    Open the printed address on the salon's tablet or laptop. Stop with Ctrl-C.
    """
    from haircare_expert.web import security

    if hash_only:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
        click.echo(security.hash_password(password))
        return
    hashed = security.password_hash_from(path=password_file)
    security.check_binding(host, hashed)

    import logging

    import waitress

    from haircare_expert.web import create_app

    # warnings and errors (with their tracebacks) go to stderr; the engine's own debug chatter
    # (experta logs every firing at INFO) stays out
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("haircare_expert").setLevel(logging.INFO)
    logging.getLogger("waitress").setLevel(logging.INFO)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    app = create_app({"DB_URL": db_url, "RULES_DIRS": tuple(rules_dirs), "PASSWORD_HASH": hashed})
    # a long-lived process: compile the rules now and keep the collector off the network
    from haircare_expert.consult.advisor import shared_advisor
    from haircare_expert.engine.freeze import freeze_compiled
    shared_advisor(rules_dirs)
    freeze_compiled()
    server = waitress.create_server(app, host=host, port=port, threads=threads, ident="haircare",
                                    clear_untrusted_proxy_headers=True)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"haircare is serving the consultation at http://{shown}:{server.effective_port}/", )
    if hashed:
        click.echo("A password is needed to sign in.")
    click.echo("Stop with Ctrl-C.")
    import sys
    sys.stdout.flush()
    try:
        server.run()
    finally:
        server.close()
