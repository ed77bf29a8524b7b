"""The alpha network's tests as plain functions, built from experta's check objects.

:func:`quick_check` turns the checks this compiler emits (a predicate on a field, a variable
bound to a field, both on one field, a fact captured) into plain functions, with attributes
that tell :mod:`.alpha` how to walk and index them (``pred``, ``capture``, ``index``). They are
built from the compiled rules' own structures (the compiler's predicates and the
operator/value pairs in :data:`PREDICATE_TESTS`), never from rule text: nothing is generated as
source code or evaluated.
"""
from __future__ import annotations

# experta is importable: the package __init__ ran _compat first
from experta import P, W
from experta.fieldconstraint import ANDFC
from experta.matchers.rete.check import FactCapture, FeatureCheck

#: predicate -> (operator, value), for the tests the matcher can index (see
#: ``alpha.index_kids``); the compiler registers each predicate it builds.
PREDICATE_TESTS: dict = {}
MISSING = object()


def quick_check(check):
    """A plain function doing what ``check`` does, for the checks this compiler emits: a
    predicate on a field, a variable bound to a field, both on one field, a fact captured.
    Others stay as they are. (experta's checks also log every test at DEBUG level; these do
    not.)"""
    if type(check) is FactCapture:
        bind = check.bind

        def capture_fact(fact):
            return {bind: fact}
        capture_fact.capture = (None, bind)
        return capture_fact
    if (type(check) is not FeatureCheck or not isinstance(check.what, str)
            or "__" in check.what or check.what.isnumeric()):
        return check
    what, how = check.what, check.how
    if type(how) is P and how.__bind__ is None:
        return _predicate(what, how.match)
    if type(how) is W and how.__bind__ is not None:
        bind = how.__bind__

        def capture(fact):
            value = fact.get(what, MISSING)
            return False if value is MISSING else {bind: value}
        capture.capture = (what, bind)
        return capture
    if type(how) is ANDFC and all(type(part) is FeatureCheck for part in check.expected):
        return _and_check(check, what)
    return check


def _predicate(what: str, match):
    """A predicate on the field ``what``; with ``pred`` (field, predicate) for :func:`walk` and,
    where passing is a lookup, ``index`` for :func:`index_kids`."""
    def test(fact):
        value = fact.get(what, MISSING)
        return value is not MISSING and bool(match(value))
    test.pred = (what, match)
    index = index_of(what, match)
    if index is not None:
        test.index = index
    return test


def index_of(what: str, match):
    """(field, the keys that pass, whether members of a set are looked up) for a predicate
    whose passing is a lookup; None for the others."""
    op, value = PREDICATE_TESTS.get(match, (None, None))
    if op == "eq" and type(value) in (str, int, bool):
        return (what, [(type(value), value)], False)
    if op == "in" and all(type(v) in (str, int) for v in value):
        # passes a value that is no tuple or bool and equals one of them: with the same
        # type, as the loader checked the list against the field
        return (what, list(dict.fromkeys((type(v), v) for v in value)), False)
    if op == "contains" and type(value) in (str, int):
        return (what, [(type(value), value)], True)
    return None


def _and_check(check, what: str):
    """and_match over sub-checks on one field: all must pass; the wildcards' bindings merged."""
    tests, binds = [], []
    for part in check.expected:
        if type(part.how) is P and part.how.__bind__ is None:
            tests.append(part.how.match)
        elif type(part.how) is W and part.how.__bind__ is not None:
            binds.append(part.how.__bind__)
        else:
            return check
    if len(binds) != len(set(binds)):
        return check

    def test_and_capture(fact):
        value = fact.get(what, MISSING)
        if value is MISSING:
            return False
        for match in tests:
            if not match(value):
                return False
        return {bind: value for bind in binds} if binds else True
    return test_and_capture
