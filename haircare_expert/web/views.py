"""The screens: start, one question at a time, review, finish, why / why not, the documents."""
from __future__ import annotations

import functools

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from haircare_expert.consult import interview as iv
from haircare_expert.consult.followup import followed
from haircare_expert.errors import ProfileError
from haircare_expert.knowledge.questions import PRODUCTS_KEY, words
from haircare_expert.web import security
from haircare_expert.web.app import csrf_token, desk, safe_next
from haircare_expert.web.desk import Change, today

bp = Blueprint("web", __name__)

#: What each kind of advice is called on screen, in the order the reports list them.
KIND_WORDS = {"referral": "See a professional", "warning": "Warnings", "recommendation": "Recommended",
              "how-to": "How to", "schedule": "When", "note": "Notes"}


# -- helpers ---------------------------------------------------------------------------------------
def _typed(form) -> str:
    """What the question form sent, as the text the interview reads (as if typed)."""
    if form.get("dontknow"):
        return "unknown"
    values = [v for v in form.getlist("answer") if v.strip()]
    if "none" in values:
        if len(values) > 1:
            raise ProfileError("answer", "'None of these' cannot be picked together with other choices")
        return "none"
    return ",".join(values)


def _nothing_given(q: iv.Question, text: str) -> bool:
    return not text.strip() and q.kind not in ("text", "date")


def _flash_change(change: Change) -> None:
    if change.added or change.removed:
        flash({"added": list(change.added), "removed": list(change.removed)}, "change")


def _panel(visit) -> dict:
    """The live "plan so far": the advice by kind, the plan steps, what the last answer did."""
    consultation = desk().consultation(visit)
    groups = []
    for kind, title in KIND_WORDS.items():
        items = list(dict.fromkeys(a.title for a in consultation.advice if a.kind == kind))
        if items and kind != "note":
            groups.append({"kind": kind, "title": title, "titles": items})
    change = next(iter(get_flashed_messages(category_filter=["change"])), None)
    return {"groups": groups, "plan": [p.item for p in consultation.plan], "change": change}


def why_blocks(lines: list[str]) -> list[dict]:
    """The interview's why-lines as paragraphs, with its indented "- rule" lines as one list."""
    blocks: list[dict] = []
    for line in lines:
        if line.startswith("  "):
            item = line.strip().removeprefix("- ")
            if not blocks or not blocks[-1]["rules"]:
                blocks.append({"text": "", "rules": []})
            blocks[-1]["rules"].append(item)
        else:
            blocks.append({"text": line, "rules": []})
    return blocks


def _shown(slot: iv.Slot, value) -> dict:
    """The current answer of a slot in the form's terms (which boxes are ticked, what is typed)."""
    q = slot.question
    if value is None:
        return {"checked": set(), "text": ""}
    if q.kind == "bool":
        return {"checked": {"yes" if value is True else "no" if value is False else value}, "text": ""}
    if isinstance(value, tuple):
        return {"checked": set(value) or {"none"}, "text": ""}
    if q.kind in ("choice",):
        return {"checked": {value}, "text": ""}
    return {"checked": set(), "text": "" if value == "unknown" else str(value)}


def _question_page(visit, slot: iv.Slot, error: str | None = None, typed: str | None = None,
                   revise: str | None = None, status: int = 200, earlier=None):
    talk = visit.talk
    answers = talk.session.answers
    heading = talk.progress()
    product = None
    if slot.entry is not None:
        count = len(answers.get(PRODUCTS_KEY) or ())
        product = f"product {slot.entry + 1} of {count}: {talk.book.product_words(slot.product)}"
    current = _shown(slot, answers.get(slot.key, earlier))
    if typed is not None:
        current = {"checked": set(typed.split(",")), "text": typed}
    return render_template("question.html", visit=visit, slot=slot, q=slot.question,
                           text=slot.text(talk.book), progress=heading, product=product,
                           why=why_blocks(talk.why(slot)), error=error, current=current, revise=revise,
                           can_go_back=bool(talk.session.history), panel=_panel(visit),
                           mode="answer"), status


def _answer_rows(visit) -> list[dict]:
    """Every answer, in question order, with the key its edit form uses."""
    talk = visit.talk
    answers = talk.session.answers
    rows = []
    for slot in talk.book.slots(answers):
        if slot.key not in answers:
            continue
        label = slot.question.label
        if slot.entry is not None:
            label = f"{talk.book.product_words(slot.product).capitalize()}: {label.lower()}"
        rows.append({"key": slot.key, "label": label, "value": words(answers[slot.key]),
                     "entry": slot.entry is not None})
    return rows


# -- sign in -------------------------------------------------------------------------------------------
@bp.route("/login", methods=["GET", "POST"])
def login():
    hashed = current_app.config["PASSWORD_HASH"]
    target = safe_next(request.values.get("next"))
    if not hashed:
        return redirect(target)
    error = None
    status = 200
    if request.method == "POST":
        limiter = current_app.extensions["haircare_limiter"]
        who = request.remote_addr or "?"
        wait = limiter.blocked_for(who)
        if wait:
            error = f"Too many wrong passwords. Try again in {wait} seconds."
            status = 429
        elif security.verify_password(request.form.get("password", ""), hashed):
            limiter.succeeded(who)
            session.clear()
            session["signed_in"] = True
            csrf_token()
            return redirect(target)
        else:
            limiter.failed(who)
            current_app.logger.warning("failed sign-in from %s", who)
            error = "That password is not right."
            status = 401
    return render_template("login.html", error=error, next=target), status


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("web.login"))


# -- start -------------------------------------------------------------------------------------------
@bp.get("/")
def start():
    text = request.args.get("q", "").strip()[:100]
    found = desk().search(text) if text else None
    # a follow-up visit is offered for each client found with a finished visit
    followable = list(dict.fromkeys(r.client for r in found or () if r.finished and r.client))
    return render_template("start.html", unfinished=desk().unfinished(), found=found, query=text,
                           followable=followable,
                           consultant=session.get("consultant") or desk().consultant(), date=today(), error=None,
                           client="")


@bp.post("/start")
def begin():
    client = request.form.get("client", "").strip()
    consultant = request.form.get("consultant", "").strip()
    date = request.form.get("date", "").strip()
    try:
        visit = desk().start(client, consultant, date)
    except ProfileError as exc:
        return render_template("start.html", unfinished=desk().unfinished(), found=None, query="",
                               followable=[],
                               consultant=consultant, date=date, client=client,
                               error=f"{exc.what[:1].upper()}{exc.what[1:]}."), 400
    session["consultant"] = consultant
    return redirect(url_for("web.question", record_id=visit.id))


@bp.post("/followup")
def follow_up():
    """A follow-up visit for a client with a finished one: starts with the last visit's answers."""
    client = request.form.get("client", "").strip()[:200]
    consultant = session.get("consultant") or desk().consultant()
    visit = desk().follow_up(client, consultant, today())
    get_flashed_messages()               # what the last visit's last answer did is not news here
    return redirect(url_for("web.confirm", record_id=visit.id))


def _in_progress(view):
    """A view of a consultation still in progress: it gets the open visit; a finished
    consultation goes to its finished screen instead."""
    @functools.wraps(view)
    def wrapped(record_id: int):
        visit = desk().open(record_id)
        if visit.finished:
            return redirect(url_for("web.done", record_id=record_id))
        return view(visit, record_id)
    return wrapped


@bp.route("/c/<int:record_id>/followup", methods=["GET", "POST"])
@_in_progress
def confirm(visit, record_id: int):
    """A follow-up's review: each section of the last visit's answers, kept or asked again."""
    d = desk()
    with d.lock:
        if request.method == "POST":
            choice = request.form.get("choice", "")
            if choice not in ("same", "change"):
                raise ProfileError("choice", "choose 'Still the same' or 'Change it'")
            d.confirm(visit, request.form.get("section", ""), change=choice == "change")
            return redirect(url_for("web.confirm", record_id=record_id))
        waiting = d.to_review(visit)
        if waiting:
            previous = followed(d.store, visit.record)
            since = previous.date if previous is not None else ""
            name, lines = waiting[0]
            return render_template("followup.html", visit=visit, section=name, heading=lines[0].rstrip(":") if lines else name,
                                   rows=[line.strip() for line in lines[1:]], left=len(waiting), since=since,
                                   panel=_panel(visit))
    return redirect(url_for("web.question", record_id=record_id))


def _confirming(visit):
    """Where a follow-up with sections still to confirm must go first (else None)."""
    if desk().to_review(visit):
        return redirect(url_for("web.confirm", record_id=visit.id))
    return None


@bp.get("/c/<int:record_id>")
@_in_progress
def resume(visit, record_id: int):
    if (waiting := _confirming(visit)) is not None:
        return waiting
    if visit.talk.finished:
        return redirect(url_for("web.review", record_id=record_id))
    return redirect(url_for("web.question", record_id=record_id))


# -- one question per screen -----------------------------------------------------------------------
@bp.get("/c/<int:record_id>/question")
@_in_progress
def question(visit, record_id: int):
    if (waiting := _confirming(visit)) is not None:
        return waiting
    revise = request.args.get("revise") or None
    with desk().lock:
        desk().revising(visit, revise)
        slot = visit.talk.current()
        if slot is None:
            return redirect(url_for("web.review", record_id=record_id))
        revising = session.get("revising") or {}
        earlier = revising.get("value") if revise and revising.get("key") == slot.key == revise else None
        return _question_page(visit, slot, revise=revise if slot.key == revise else None, earlier=earlier)


@bp.post("/c/<int:record_id>/answer")
@_in_progress
def answer(visit, record_id: int):
    d = desk()
    key = request.form.get("key", "")
    revise = request.form.get("revise") or None
    with d.lock:
        d.revising(visit, revise)
        slot = visit.talk.current()
        if slot is None:
            return redirect(url_for("web.review", record_id=record_id))
        try:
            text = _typed(request.form)
        except ProfileError as exc:
            return _question_page(visit, slot, error=f"{exc.what}.", revise=revise, status=400)
        if slot.key == key and _nothing_given(slot.question, text):
            return _question_page(visit, slot, error="Please choose an answer, or press Don't know.",
                                  revise=revise, status=400)
        visit, reply, change = d.answer(visit, key, text, revise)
        if reply.kind == "moved":
            flash("That question had already been answered (in another tab?). Here is the next one.", "note")
            return redirect(url_for("web.question", record_id=record_id))
        if reply.kind == "bad":
            shown = text if slot.question.kind in ("choice", "set", "bool") else request.form.get("answer", "")
            return _question_page(visit, slot, error=" ".join(reply.lines), typed=shown, revise=revise,
                                  status=400)
    _flash_change(change)
    if visit.talk.finished:
        return redirect(url_for("web.review", record_id=record_id))
    return redirect(url_for("web.question", record_id=record_id))


@bp.post("/c/<int:record_id>/back")
@_in_progress
def back(visit, record_id: int):
    history = visit.talk.session.history
    last = history[-1] if history else None
    given = visit.talk.session.answers.get(last) if last else None
    visit, reply = desk().back(visit)
    if last is not None:                 # shown ticked again on the question, to change or keep
        session["revising"] = {"key": last, "value": given}
    if reply.kind != "back":
        flash(" ".join(reply.lines), "note")
        return redirect(url_for("web.question", record_id=record_id))
    return redirect(url_for("web.question", record_id=record_id, revise=visit.talk.revising))


# -- review ----------------------------------------------------------------------------------------------
@bp.get("/c/<int:record_id>/review")
def review(record_id: int):
    visit = desk().open(record_id)
    if (waiting := _confirming(visit)) is not None:
        return waiting
    with desk().lock:
        pending = visit.talk.current()
        remaining = len(visit.talk.plan().pending)
        return render_template("review.html", visit=visit, rows=_answer_rows(visit), pending=pending,
                               remaining=remaining, panel=_panel(visit),
                               notes=get_flashed_messages(category_filter=["note"]))


@bp.route("/c/<int:record_id>/edit", methods=["GET", "POST"])
@_in_progress
def edit(visit, record_id: int):
    d = desk()
    key = request.values.get("key", "")
    with d.lock:
        slot = d.slot(visit, key)
        if request.method == "GET":
            return render_template("question.html", **_edit_context(visit, slot))
        try:
            text = _typed(request.form)
            if _nothing_given(slot.question, text):
                raise ProfileError(key, "please choose an answer, or press Don't know")
            visit, change = d.edit(visit, key, text)
        except ProfileError as exc:
            return render_template("question.html", **_edit_context(visit, slot, f"{exc.what[:1].upper()}{exc.what[1:]}.")), 400
    _flash_change(change)
    return redirect(url_for("web.review", record_id=record_id) + "#answers")


def _edit_context(visit, slot: iv.Slot, error: str | None = None) -> dict:
    talk = visit.talk
    product = None
    if slot.entry is not None:
        product = f"product {slot.entry + 1}: {talk.book.product_words(slot.product)}"
    return {"visit": visit, "slot": slot, "q": slot.question, "text": slot.text(talk.book),
            "progress": "Change an answer", "product": product, "why": why_blocks(talk.why(slot)), "error": error,
            "current": _shown(slot, talk.session.answers.get(slot.key)), "revise": None,
            "can_go_back": False, "panel": _panel(visit), "mode": "edit"}


@bp.post("/c/<int:record_id>/finish")
def finish(record_id: int):
    d = desk()
    visit = d.open(record_id)
    if not visit.finished:
        if (waiting := _confirming(visit)) is not None:
            return waiting
        with d.lock:
            if visit.talk.current() is not None:
                flash("A few questions can still change the advice: please answer them first.", "note")
                return redirect(url_for("web.question", record_id=record_id))
            d.finish(visit)
    return redirect(url_for("web.done", record_id=record_id))


# -- the end: documents, why, why not ------------------------------------------------------------------
@bp.get("/c/<int:record_id>/done")
def done(record_id: int):
    d = desk()
    visit = d.open(record_id)
    if not visit.finished:
        return redirect(url_for("web.review", record_id=record_id))
    consultation = d.consultation(visit)
    lines = []
    for kind, title in KIND_WORDS.items():
        for a in consultation.advice:
            if a.kind == kind:
                lines.append({"kind": title, "title": a.title, "text": a.text, "rule": a.rule})
    rules = sorted(((r.id, r.title) for r in d.advisor.rulebook.rules), key=lambda item: item[1].lower())
    since = consultation.followup
    changed = [] if since is None else [
        (label, items) for label, items in (("Gone since then", since.gone), ("New since then", since.new),
                                            ("Products started", since.started),
                                            ("Products stopped", since.stopped),
                                            ("Changes to the plan", since.plan_changes)) if items]
    return render_template("done.html", visit=visit, lines=lines, rules=rules,
                           plan=[p for p in consultation.plan], since=since, changed=changed)


def _finished(record_id: int):
    visit = desk().open(record_id)
    if not visit.finished:
        from haircare_expert.errors import NotFoundError
        raise NotFoundError(f"consultation {record_id}", "not finished yet: its documents are made at the end")
    return visit


def _document(record_id: int, fmt: str, audience: str):
    from haircare_expert.render.formats import render
    visit = _finished(record_id)
    consultation = desk().consultation(visit)
    return visit, render(consultation, fmt, audience=audience)


def _filename(visit, what: str, ext: str) -> str:
    name = "".join(ch if ch.isalnum() else "-" for ch in str(visit.record.client)).strip("-") or "client"
    return f"{what}-{name}-{visit.record.date or visit.id}.{ext}"


@bp.get("/c/<int:record_id>/handout.html")
def handout_html(record_id: int):
    _, html = _document(record_id, "html", "client")
    g.document = True
    return Response(html, mimetype="text/html")


@bp.get("/c/<int:record_id>/handout.pdf")
def handout_pdf(record_id: int):
    visit, pdf = _document(record_id, "pdf", "client")
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{_filename(visit, "handout", "pdf")}"'})


@bp.get("/c/<int:record_id>/record.html")
def record_html(record_id: int):
    _, html = _document(record_id, "html", "consultant")
    g.document = True
    return Response(html, mimetype="text/html")


@bp.get("/c/<int:record_id>/record.json")
def record_json(record_id: int):
    import json
    visit = _finished(record_id)
    body = json.dumps(visit.record.record, indent=2, ensure_ascii=False) + "\n"
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{_filename(visit, "record", "json")}"'})


@bp.get("/c/<int:record_id>/why/<rule_id>")
def why(record_id: int, rule_id: str):
    from haircare_expert.audit.explain import explain, render_text
    d = desk()
    visit = d.open(record_id)
    with d.lock:
        consultation = d.consultation(visit)
        result = explain(consultation, d.advisor.rulebook, rule_id)
    catalogue = getattr(d.advisor.rulebook, "sources", None) or {}
    titles = {sid: (entry.title or sid) for sid, entry in catalogue.items()}
    return render_template("why.html", visit=visit, e=result, text=render_text(result), titles=titles)


@bp.get("/c/<int:record_id>/whynot")
def why_not(record_id: int):
    rule_id = request.args.get("rule", "").strip()
    if not rule_id:
        return redirect(url_for("web.done", record_id=record_id))
    return redirect(url_for("web.why", record_id=record_id, rule_id=rule_id))
