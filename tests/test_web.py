"""The web app through Flask's test client: every screen, every error path, the guards."""
from __future__ import annotations

import json
import logging
import re

import pytest
from click.testing import CliRunner
from web_scenarios import SCENARIOS, answers_of, form_values, terminal_json, typed

from haircare_expert import cli
from haircare_expert.web import create_app, security

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
KEY_RE = re.compile(r'name="key" value="([^"]+)"')


# -- fixtures and helpers ------------------------------------------------------------------------
@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'records.db'}"


@pytest.fixture
def make_app(db_url):
    made = []

    def make(**config):
        app = create_app({"DB_URL": db_url, "SECRET_KEY": "test-secret", **config})
        made.append(app)
        return app
    yield make
    for app in made:
        app.extensions["haircare_desk"].store.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def web(app):
    return Browser(app.test_client())


class Browser:
    """The test client with the page's CSRF token carried along, as a browser would."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def get(self, url, **kw):
        response = self.client.get(url, **kw)
        found = response.mimetype == "text/html" and TOKEN_RE.search(response.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return response

    def post(self, url, data=None, token=True, **kw):
        data = dict(data or {})
        if token:
            if self.token is None:
                self.get("/")
            data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, **kw)

    def start(self, client="Ana Example", consultant="Sam Adviser", date="2026-11-29") -> int:
        self.get("/")
        response = self.post("/start", {"client": client, "consultant": consultant, "date": date})
        assert response.status_code == 302, response.get_data(as_text=True)
        return int(re.search(r"/c/(\d+)/", response.location).group(1))

    def key(self, rid) -> str | None:
        response = self.get(f"/c/{rid}/question")
        if response.status_code == 302:
            return None
        return KEY_RE.search(response.get_data(as_text=True)).group(1)

    def answer(self, rid, key, values, **extra):
        return self.post(f"/c/{rid}/answer", {"key": key, "answer": values, **extra})

    def run(self, rid, answers: dict) -> list[str]:
        """Answer every question asked from ``answers`` (Don't know where it has none); return
        the answers as typed at the terminal, in order."""
        given = []
        for _ in range(80):
            key = self.key(rid)
            if key is None:
                return given
            if key in answers:
                values = form_values(answers[key])
                response = self.answer(rid, key, values)
                given.append(typed(values))
            else:
                response = self.post(f"/c/{rid}/answer", {"key": key, "dontknow": "1"})
                given.append("unknown")
            assert response.status_code == 302, response.get_data(as_text=True)
        raise AssertionError("the interview did not end")


def text(response) -> str:
    return response.get_data(as_text=True)


def stored(app, rid):
    return app.extensions["haircare_desk"].store.get(rid)


# -- start ---------------------------------------------------------------------------------------------
def test_the_start_page_prefills_the_date_and_offers_a_new_consultation(web):
    """The consultant starts from one page with today's date filled in."""
    import datetime
    page = text(web.get("/"))
    assert "New consultation" in page and datetime.date.today().isoformat() in page


def test_unfinished_consultations_are_listed_for_resuming_and_clients_can_be_searched(web):
    """A consultation left half-way shows on the start page, and a client is found by name."""
    rid = web.start(client="Bea Resume")
    page = text(web.get("/"))
    assert "Bea Resume" in page and f"/c/{rid}" in page
    found = text(web.get("/?q=resu"))
    assert found.count("Bea Resume") >= 2
    assert "No client" in text(web.get("/?q=zzz"))
    assert web.get(f"/c/{rid}").location.endswith(f"/c/{rid}/question")


def test_the_consultant_name_is_remembered_for_the_next_client(web):
    """The next new consultation has the consultant's name already filled in."""
    web.start(consultant="Maya Stylist")
    assert 'value="Maya Stylist"' in text(web.get("/"))


@pytest.mark.parametrize("form, message", [
    ({"client": "", "consultant": "Sam", "date": "2026-11-29"}, "client&#39;s name"),
    ({"client": "Ana", "consultant": "Sam", "date": "29/11/2026"}, "is not a date"),
])
def test_a_bad_start_form_is_shown_again_with_the_reason(web, form, message):
    """A missing name or a bad date is explained on the form; no record is made."""
    response = web.post("/start", form)
    assert response.status_code == 400 and message in text(response)
    assert 'value="Sam"' in text(response)
    assert "Resume" not in text(web.get("/"))


# -- the questions ---------------------------------------------------------------------------------------
def test_a_question_screen_shows_progress_why_back_and_dont_know(web):
    """Each question comes with its progress, the rules waiting on it, Back and Don't know."""
    rid = web.start()
    page = text(web.get(f"/c/{rid}/question"))
    assert re.search(r"Question \d+, (about \d+ left|probably the last)", page)
    assert "Why is this asked?" in page and "Rules waiting on it" in page
    assert 'id="dontknow"' in page and 'id="back"' in page


def test_an_answer_is_saved_at_once_and_the_next_question_follows(web, app):
    """Every answer is in the records before the next screen shows."""
    rid = web.start()
    key = web.key(rid)
    before = stored(app, rid).version
    response = web.answer(rid, key, ["none"] if key in ("scalp.symptoms", "hair.concerns") else ["unknown"])
    assert response.status_code == 302
    record = stored(app, rid)
    assert record.version == before + 1 and key in record.session["interview"]["asked"]
    assert web.key(rid) != key


def test_a_bad_answer_is_refused_in_words_and_changes_nothing(web, app):
    """An answer outside the allowed values is explained, and nothing is saved."""
    rid = web.start()
    key = web.key(rid)
    version = stored(app, rid).version
    response = web.answer(rid, key, ["no_such_value"])
    assert response.status_code == 400 and "not a choice" in text(response)
    assert stored(app, rid).version == version
    response = web.answer(rid, key, [])
    assert response.status_code == 400 and "Please choose an answer" in text(response)
    response = web.answer(rid, key, ["none", "flaking"])
    assert response.status_code == 400 and "None of these" in text(response)


def test_a_number_out_of_range_names_the_range(web):
    """A number question says which numbers it accepts."""
    client, answers = answers_of("oily-buildup")
    rid = web.start()
    for _ in range(40):
        key = web.key(rid)
        if key and key.endswith("per_week"):
            break
        web.answer(rid, key, form_values(answers.get(key, "unknown")))
    response = web.answer(rid, key, ["99"])
    assert response.status_code == 400 and "out of range" in text(response) and 'value="99"' in text(response)


def test_dont_know_records_unknown(web, app):
    """Don't know is a valid answer to any question, stored as unknown."""
    rid = web.start()
    key = web.key(rid)
    web.post(f"/c/{rid}/answer", {"key": key, "dontknow": "1"})
    assert stored(app, rid).session["interview"]["asked"][-1] == key
    page = text(web.get(f"/c/{rid}/review"))
    assert "unknown" in page


def test_back_asks_the_previous_question_again_even_after_a_reload(web, app):
    """Back takes back the last answer and shows that question again, the earlier answer ticked;
    a reload keeps it there."""
    rid = web.start()
    first = web.key(rid)
    web.answer(rid, first, ["none"])
    assert web.key(rid) != first
    response = web.post(f"/c/{rid}/back")
    assert response.status_code == 302 and "revise=" in response.location
    assert first not in stored(app, rid).session["interview"]["asked"]
    again = web.get(response.location)
    assert KEY_RE.search(text(again)).group(1) == first and "Going back" in text(again)
    assert 'value="none" checked' in text(again), "the answer taken back is shown to change or keep"
    assert KEY_RE.search(text(web.get(response.location))).group(1) == first


def test_back_at_the_first_question_says_there_is_nothing_to_go_back_to(web):
    """Back before any answer (the client details are preset) explains instead of failing."""
    rid = web.start()
    for _ in range(3):
        web.post(f"/c/{rid}/back")
    response = web.post(f"/c/{rid}/back")
    assert response.status_code == 302
    assert "Nothing to go back to" in text(web.get(response.location))


def test_a_form_sent_twice_does_not_answer_the_next_question(web, app):
    """A double tap (the same question sent again) leaves the next question unanswered."""
    rid = web.start()
    key = web.key(rid)
    web.answer(rid, key, ["none"])
    version = stored(app, rid).version
    response = web.answer(rid, key, ["none"])
    assert response.status_code == 302 and stored(app, rid).version == version
    assert "already been answered" in text(web.get(response.location))


def test_the_plan_panel_shows_what_an_answer_added(web):
    """After an answer that brings new advice, the panel names what it added."""
    rid = web.start()
    key = web.key(rid)
    assert key == "scalp.symptoms"
    web.answer(rid, key, ["patchy_loss"])
    page = text(web.get(f"/c/{rid}/question"))
    assert "Your last answer" in page and "added:" in page and "See a professional" in page


# -- review, edit, finish --------------------------------------------------------------------------------
def finished_consultation(web, example="serum-misuse") -> tuple[int, list[str], dict]:
    client, answers = answers_of(example)
    rid = web.start(client=client["name"], consultant=client["consultant"], date=client["date"])
    given = web.run(rid, answers)
    return rid, given, client


def test_review_lists_every_answer_and_an_edit_recomputes_the_advice(web, app):
    """On the review screen any answer can be changed; the advice follows the change."""
    rid, _, _ = finished_consultation(web, "oily-buildup")
    page = text(web.get(f"/c/{rid}/review"))
    assert "Finish: make the handout" in page and "/edit?key=scalp.symptoms" in page
    assert "oiliness, buildup" in page
    edit = web.get(f"/c/{rid}/edit?key=scalp.symptoms")
    assert edit.status_code == 200 and "checked" in text(edit)
    response = web.post(f"/c/{rid}/edit", {"key": "scalp.symptoms", "answer": ["patchy_loss"]})
    assert response.status_code == 302
    page = text(web.get(response.location))
    assert "patchy loss" in page and "removed:" in page and "added:" in page
    assert stored(app, rid).session["profile"]["scalp"]["symptoms"] == ["patchy_loss"]


def test_a_bad_edit_is_refused_and_an_unknown_key_is_not_found(web):
    """An edit is checked like an answer; a question that does not exist is a 404 page."""
    rid, _, _ = finished_consultation(web, "oily-buildup")
    response = web.post(f"/c/{rid}/edit", {"key": "habits.washes_per_week", "answer": ["-3"]})
    assert response.status_code == 400 and "out of range" in text(response)
    response = web.get(f"/c/{rid}/edit?key=hair.nothing")
    assert response.status_code == 404 and "Error: hair.nothing:" in text(response)


def test_changing_the_products_keeps_the_answers_about_products_still_used(web, app):
    """Removing one product from the routine keeps what was said about the others."""
    rid, _, _ = finished_consultation(web, "serum-misuse")
    before = stored(app, rid).session["profile"]["routine"]
    web.get(f"/c/{rid}/edit?key=routine")
    web.post(f"/c/{rid}/edit", {"key": "routine", "answer": ["scalp_serum", "hair_mask"]})
    after = stored(app, rid).session["profile"]["routine"]
    assert [e["product"] for e in after] == ["scalp_serum", "hair_mask"]
    assert after[0] == before[1] and after[1] == before[2]


def test_finishing_with_questions_open_goes_back_to_them(web):
    """Finish is refused while a question can still change the advice."""
    rid = web.start()
    response = web.post(f"/c/{rid}/finish")
    assert response.location.endswith(f"/c/{rid}/question")


def test_the_finished_consultation_gives_handout_pdf_record_and_json(web, app):
    """At the end: the client's handout (HTML and PDF), the consultant's record and the JSON."""
    rid, _, client = finished_consultation(web)
    response = web.post(f"/c/{rid}/finish")
    assert response.location.endswith(f"/c/{rid}/done")
    page = text(web.get(f"/c/{rid}/done"))
    assert "why?" in page and "Why (not)?" in page
    handout = web.get(f"/c/{rid}/handout.html")
    assert handout.status_code == 200 and client["name"] in text(handout)
    assert "script-src" not in handout.headers["Content-Security-Policy"]
    pdf = web.get(f"/c/{rid}/handout.pdf")
    assert pdf.data.startswith(b"%PDF") and "attachment" in pdf.headers["Content-Disposition"]
    record = web.get(f"/c/{rid}/record.html")
    assert record.status_code == 200 and "hair-serum" in text(record)
    data = json.loads(web.get(f"/c/{rid}/record.json").data)
    assert data == stored(app, rid).record and data["client"]["name"] == client["name"]
    # a finished consultation is read-only
    assert web.get(f"/c/{rid}/question").location.endswith("/done")
    assert web.post(f"/c/{rid}/answer", {"key": "goals", "answer": ["shine"]}).location.endswith("/done")


def test_why_and_why_not_explain_with_the_clients_answers(web):
    """Every line of advice has a why; any rule can be asked why not."""
    rid, _, _ = finished_consultation(web)
    web.post(f"/c/{rid}/finish")
    page = text(web.get(f"/c/{rid}/done"))
    rule = re.search(r"/why/([a-z0-9-]+)", page).group(1)
    why = web.get(f"/c/{rid}/why/{rule}")
    assert why.status_code == 200 and "This advice was given." in text(why) and "Because:" in text(why)
    response = web.get(f"/c/{rid}/whynot?rule=refer-patchy-hair-loss")
    assert response.status_code == 302
    why_not = text(web.get(response.location))
    assert "This advice was not given." in why_not and "did not fire" in why_not
    missing = web.get(f"/c/{rid}/why/no-such-rule")
    assert missing.status_code == 404 and "Error: " in text(missing)


def test_documents_of_an_unfinished_consultation_are_not_found(web):
    """The handout exists only once the consultation is finished."""
    rid = web.start()
    response = web.get(f"/c/{rid}/handout.pdf")
    assert response.status_code == 404 and "not finished" in text(response)
    assert web.get(f"/c/{rid}/done").location.endswith(f"/c/{rid}/review")


@pytest.mark.parametrize("example", SCENARIOS)
def test_the_json_record_is_identical_to_the_terminal_interviews(web, app, tmp_path, example):
    """The browser and `haircare interview` give the same record for the same answers."""
    rid, given, client = finished_consultation(web, example)
    web.post(f"/c/{rid}/finish")
    assert stored(app, rid).record == terminal_json(client, given, tmp_path)


def test_a_server_restart_loses_no_answer(web, make_app, app):
    """A new server over the same records continues where the last one stopped."""
    client, answers = answers_of("red-flags")
    rid = web.start(client=client["name"])
    for _ in range(3):
        key = web.key(rid)
        web.answer(rid, key, form_values(answers.get(key, "unknown")))
    asked = stored(app, rid).session["interview"]["asked"]
    again = Browser(make_app().test_client())
    assert "Ivo Redflag" in text(again.get("/"))
    assert again.key(rid) == web.key(rid)
    assert stored(app, rid).session["interview"]["asked"] == asked


# -- errors -----------------------------------------------------------------------------------------------
def test_an_unknown_consultation_or_page_is_a_404_page(web):
    """A wrong address is a plain not-found page."""
    for url in ("/c/999/question", "/c/999/review", "/nothing-here"):
        response = web.get(url)
        assert response.status_code == 404 and "Not found" in text(response)


def test_a_wrong_method_is_an_error_page_not_a_traceback(web):
    """GET on a form's address answers with a page, not a stack trace."""
    response = web.get("/start")
    assert response.status_code == 405 and "Traceback" not in text(response)


def test_a_bug_shows_an_error_page_and_is_logged_never_the_traceback(web, app, caplog, monkeypatch):
    """An internal error never shows the traceback to the browser; the log gets it."""
    rid = web.start()
    desk = app.extensions["haircare_desk"]

    def broken(visit):
        raise RuntimeError("secret detail")
    monkeypatch.setattr(desk, "consultation", broken)
    with caplog.at_level(logging.ERROR, logger="haircare_expert.web"):
        response = web.get(f"/c/{rid}/review")
    assert response.status_code == 500
    assert "secret detail" not in text(response) and "Traceback" not in text(response)
    assert "answers saved so far are safe" in text(response)
    assert any("secret detail" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_a_record_changed_elsewhere_is_a_conflict_page(web, app, monkeypatch):
    """Two tabs saving the same consultation: the second is told to reload, nothing is lost."""
    from haircare_expert.errors import StoreConflictError
    rid = web.start()
    key = web.key(rid)
    desk = app.extensions["haircare_desk"]

    def stale(*args, **kwargs):
        raise StoreConflictError(f"record {rid}", "changed elsewhere; reload")
    monkeypatch.setattr(desk.store, "save_answers", stale)
    response = web.answer(rid, key, ["none"])
    assert response.status_code == 409 and "changed elsewhere" in text(response)


# -- security ---------------------------------------------------------------------------------------------
def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(web, app):
    """A form posted from another site (no token) does nothing."""
    rid = web.start()
    key = web.key(rid)
    version = stored(app, rid).version
    for token in (None, "forged"):
        data = {"key": key, "answer": "none"}
        if token:
            data["csrf_token"] = token
        response = web.post(f"/c/{rid}/answer", data, token=False,
                            headers={"Referer": f"https://evil.example/c/{rid}/question"})
        assert response.status_code == 400 and "expired" in text(response)
        assert "evil.example" not in text(response) and f'href="/c/{rid}/question"' in text(response)
    assert stored(app, rid).version == version
    assert web.post("/start", {"client": "X"}, token=False).status_code == 400


def test_every_page_sends_a_strict_csp_and_an_httponly_samesite_cookie(web):
    """Pages allow no inline script, and the session cookie is out of reach of scripts."""
    response = web.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in text(response) and " on" + "click=" not in text(response)


def test_client_text_is_escaped_everywhere(web):
    """A name with markup is shown as text, never run."""
    rid = web.start(client='<script>alert("x")</script>')
    for url in ("/", f"/c/{rid}/question", f"/c/{rid}/review"):
        page = text(web.get(url))
        assert "<script>alert" not in page and "&lt;script&gt;alert" in page


@pytest.fixture
def locked(make_app):
    return Browser(make_app(PASSWORD_HASH=security.hash_password("open sesame"), LOGIN_LIMIT=3).test_client())


def test_with_a_password_every_page_needs_signing_in(locked):
    """With a password set, nothing but the sign-in page is shown to a stranger."""
    response = locked.get("/c/1/review")
    assert response.status_code == 302 and "/login?next=" in response.location
    assert locked.client.post("/start", data={"client": "X"}).status_code == 401
    assert locked.get("/static/app.css").status_code == 200


def test_signing_in_with_the_right_password_opens_the_app(locked):
    """The right password signs in and goes where the user was going."""
    locked.get("/login")
    response = locked.post("/login", {"password": "wrong"})
    assert response.status_code == 401 and "not right" in text(response)
    locked.get("/login?next=/%3Fq%3Dana")
    response = locked.post("/login", {"password": "open sesame", "next": "/?q=ana"})
    assert response.status_code == 302 and response.location.endswith("/?q=ana")
    assert locked.get("/").status_code == 200
    response = locked.post("/logout")
    assert locked.get("/").status_code == 302


def test_sign_in_never_redirects_to_another_site(locked):
    """The page to go to after signing in must be on this site."""
    locked.get("/login")
    response = locked.post("/login", {"password": "open sesame", "next": "//evil.example/x"})
    assert response.location.endswith("/") and "evil" not in response.location


def test_sign_in_attempts_are_rate_limited(locked):
    """After a few wrong passwords even the right one is refused for a while."""
    locked.get("/login")
    for _ in range(3):
        assert locked.post("/login", {"password": "guess"}).status_code == 401
    response = locked.post("/login", {"password": "open sesame"})
    assert response.status_code == 429 and "Too many" in text(response)


def test_the_attempt_limiter_forgets_old_failures():
    """A wrong password counts only within the window."""
    now = [0.0]
    limiter = security.AttemptLimiter(limit=2, window=60, clock=lambda: now[0])
    limiter.failed("a")
    limiter.failed("a")
    assert limiter.blocked_for("a") > 0 and limiter.blocked_for("b") == 0
    now[0] = 61
    assert limiter.blocked_for("a") == 0


def test_password_hashes_are_salted_and_checked():
    """The password file holds a salted hash: two hashes differ, both verify, others do not."""
    one, two = security.hash_password("pw"), security.hash_password("pw")
    assert one != two and "pw" not in one.split("$")[4:]
    assert security.verify_password("pw", one) and not security.verify_password("pW", one)
    with pytest.raises(security.SecurityError):
        security.check_hash("plain text password")


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("[::1]", True), ("127.0.0.2", True), ("0.0.0.0", False),
                                            ("192.168.1.20", False), ("::", False), ("salon.local", False)])
def test_only_loopback_hosts_count_as_this_machine(host, loopback):
    """Only addresses of this machine are served without a password."""
    assert security.is_loopback(host) is loopback


def serve(*args, env=None):
    return CliRunner().invoke(cli.main, ["serve", *args], env={"HAIRCARE_PASSWORD": None,
                                                              "HAIRCARE_PASSWORD_FILE": None, **(env or {})})


def test_serving_beyond_this_machine_without_a_password_is_refused():
    """`haircare serve --host 0.0.0.0` refuses to start without a password, in one line."""
    result = serve("--host", "0.0.0.0")
    assert result.exit_code == 2
    assert result.output.startswith("Error: --host 0.0.0.0:") and "password" in result.output
    assert "Traceback" not in result.output
    security.check_binding("0.0.0.0", security.hash_password("pw"))     # with a password: allowed
    security.check_binding("127.0.0.1", None)                          # this machine only: allowed


def test_a_password_file_must_hold_a_hash(tmp_path):
    """A password file with plain text in it is refused; a missing one is named."""
    bad = tmp_path / "pw"
    bad.write_text("hunter2\n", encoding="utf-8")
    result = serve("--host", "0.0.0.0", "--password-file", str(bad))
    assert result.exit_code == 2 and f"Error: {bad}: not a password hash" in result.output
    result = serve("--password-file", str(tmp_path / "missing"))
    assert result.exit_code == 5 and "cannot read the password file" in result.output


def test_hash_password_prints_a_line_for_the_password_file(tmp_path):
    """`haircare serve --hash-password` turns a typed password into a password-file line."""
    result = CliRunner().invoke(cli.main, ["serve", "--hash-password"], input="s3cret\ns3cret\n")
    line = result.output.strip().splitlines()[-1]
    assert result.exit_code == 0 and security.verify_password("s3cret", security.check_hash(line))
    (tmp_path / "pw").write_text(line + "\n", encoding="utf-8")
    assert security.password_hash_from({}, str(tmp_path / "pw")) == line


def test_a_finished_consultation_shows_the_advice_as_it_was_given_after_a_rule_change(web, app, make_app, tmp_path):
    """A rule added after the visit does not creep into that visit's handout or done page."""
    rid, _, _ = finished_consultation(web, "oily-buildup")
    web.post(f"/c/{rid}/finish")
    folder = tmp_path / "own-rules"
    folder.mkdir()
    (folder / "mine.yaml").write_text(
        "rules:\n"
        "- id: salon-brushing-tip\n"
        "  title: Brush from the ends up\n"
        "  kind: note\n"
        "  when:\n"
        "    - fact: hair\n"
        "      type: {known: true}\n"
        "  then:\n"
        "    advise: Brush from the ends up to the roots.\n"
        "  because: Brushing from the ends loosens knots without pulling.\n"
        "  sources: [{own: true, note: the salon's own tip}]\n", encoding="utf-8")
    later = Browser(make_app(RULES_DIRS=(str(folder),)).test_client())
    def advice_list(page: str) -> str:
        return page.split('id="advice"', 1)[1].split("</ul>", 1)[0]
    assert "Brush from the ends up" not in advice_list(text(later.get(f"/c/{rid}/done")))
    assert "Brush from the ends up" not in text(later.get(f"/c/{rid}/handout.html"))
    fresh, _, _ = finished_consultation(later, "oily-buildup")
    later.post(f"/c/{fresh}/finish")
    assert "Brush from the ends up" in advice_list(text(later.get(f"/c/{fresh}/done")))


# -- follow-up visits ----------------------------------------------------------------------------------
FOLLOWUP_RE = re.compile(r'<form method="post" action="/followup">.*?name="client" value="([^"]+)"', re.S)


def test_a_follow_up_visit_is_offered_only_for_a_client_with_a_finished_visit(web):
    """Searching a client offers a follow-up visit once she has a finished consultation, not before."""
    web.start(client="Bea Unfinished")
    found = text(web.get("/?q=Bea"))
    assert "Bea Unfinished" in found and not FOLLOWUP_RE.search(found)
    rid, _, client = finished_consultation(web)
    web.post(f"/c/{rid}/finish")
    assert FOLLOWUP_RE.findall(text(web.get("/?q=Ana"))) == [client["name"]]
    assert FOLLOWUP_RE.findall(text(web.get(f"/c/{rid}/done"))) == [client["name"]]
    refused = web.post("/followup", {"client": "Bea Unfinished"})
    assert refused.status_code == 400 and "no finished consultation" in text(refused)


def test_a_follow_up_visit_after_the_flaking_resolved_says_so_in_the_handout(web, app):
    """A follow-up starts from the last visit's answers, section by section; the handout says what
    changed ("Gone since then: flakes") and the plan goes on from the last one."""
    rid, _, client = finished_consultation(web, "dry-flaky-scalp")
    assert web.post(f"/c/{rid}/finish").status_code == 302
    first = stored(app, rid).record
    introduced = {p["product"] for p in first["plan"] if p["new"] and p["product"]}

    web.get("/?q=Ana")
    response = web.post("/followup", {"client": client["name"]})
    assert response.status_code == 302
    fid = int(re.search(r"/c/(\d+)/followup", response.location).group(1))
    assert stored(app, fid).follows == rid and stored(app, fid).date != ""
    page = text(web.get(f"/c/{fid}/followup"))
    assert 'id="section">Scalp<' in page and "flaking, itching, soreness" in page
    # nothing is asked before the last visit's answers are confirmed or changed
    assert web.get(f"/c/{fid}/question").location.endswith(f"/c/{fid}/followup")
    assert web.post(f"/c/{fid}/followup", {"section": "scalp", "choice": "change"}).status_code == 302
    for _ in range(10):                         # every other section is still the same
        page = web.get(f"/c/{fid}/followup")
        if page.status_code == 302:
            break
        section = re.search(r'name="section" value="([^"]+)"', text(page)).group(1)
        web.post(f"/c/{fid}/followup", {"section": section, "choice": "same"})
    assert stored(app, fid).targets["review"] == []
    # only the scalp is asked again: the symptoms are gone now
    assert web.key(fid) == "scalp.symptoms"
    web.run(fid, {"scalp.symptoms": []})
    assert web.post(f"/c/{fid}/finish").status_code == 302
    done = text(web.get(f"/c/{fid}/done"))
    assert re.search(r'id="since">\s*<dt>Gone since then</dt><dd><ul><li>flakes</li>', done)
    handout = text(web.get(f"/c/{fid}/handout.html"))
    assert "Since your last visit" in handout and client["date"] in handout
    assert re.search(r"Gone since then</dt>\s*<dd>flakes", handout)
    plan = stored(app, fid).record["plan"]
    assert introduced and not [p for p in plan if p["product"] in introduced and p["new"]]


def test_a_follow_up_form_without_the_csrf_token_is_refused_and_starts_nothing(web, app):
    """A follow-up visit cannot be started or confirmed from another site."""
    rid, _, client = finished_consultation(web)
    web.post(f"/c/{rid}/finish")
    count = len(app.extensions["haircare_desk"].store.list())
    assert web.post("/followup", {"client": client["name"]}, token=False).status_code == 400
    assert len(app.extensions["haircare_desk"].store.list()) == count
    fid = int(re.search(r"/c/(\d+)/", web.post("/followup", {"client": client["name"]}).location).group(1))
    version = stored(app, fid).version
    refused = web.post(f"/c/{fid}/followup", {"section": "scalp", "choice": "change"}, token=False)
    assert refused.status_code == 400 and stored(app, fid).version == version


def test_a_follow_up_begun_in_the_browser_goes_on_at_the_terminal(web, app, db_url):
    """A follow-up left half-confirmed in the browser continues with `haircare interview --resume`:
    the sections already confirmed are not shown again, and the visit ends with what changed."""
    rid, _, client = finished_consultation(web, "dry-flaky-scalp")
    web.post(f"/c/{rid}/finish")
    fid = int(re.search(r"/c/(\d+)/", web.post("/followup", {"client": client["name"]}).location).group(1))
    web.post(f"/c/{fid}/followup", {"section": "scalp", "choice": "change"})
    left = stored(app, fid).targets["review"]
    assert left and "scalp" not in left
    result = CliRunner().invoke(cli.main, ["interview", "--resume", str(fid), "--db", db_url],
                                input="yes\n" * len(left) + "none\n" + "unknown\n" * 40)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Still the same?") == len(left) and "Scalp: flaking" not in result.stdout
    since = result.stdout.split("Since the last visit (2026-11-22):", 1)[1]
    assert "gone: flakes" in since.splitlines()[1]
    assert stored(app, fid).finished
