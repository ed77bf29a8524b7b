"""``haircare serve``: the consultation in a browser.

A Flask app (:func:`create_app`) over the interview library and the records store: one question
per screen, a review screen, the handout and the record at the end. Served by waitress
(``haircare_expert.cli.serve``), never by Flask's debug server.
"""
from haircare_expert.web.app import create_app

__all__ = ["create_app"]
