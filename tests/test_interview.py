"""The interview asks only what can still change the advice, takes why/back/unknown/quit and bad answers in its stride, and never loses an answer."""
from __future__ import annotations

import json
import random
import re

import pytest
import yaml
from click.testing import CliRunner

from haircare_expert.cli import base as cli
from haircare_expert.consult.advisor import Advisor
from haircare_expert.consult.interview import Interview, QuestionBook, Session, dump_profile, parse_answer
from haircare_expert.errors import ExitCode, ProfileError
from haircare_expert.knowledge.rulebook import Rulebook
from haircare_expert.knowledge.vocabulary import Vocabulary

# A small knowledge base of our own, so the scripted interviews below do not shift whenever the
# shipped rules grow: red flags (one from the scalp, one from a product reaction) leading to a
# referral, a warning per product, and a derive chain (frizz -> frizzy hair -> advice that also
# needs the washes a week).
MINI_RULES = {
    "safety.yaml": """
        rules:
          - id: flag-patches
            title: Bare patches are a red flag
            kind: derive
            when: [{fact: scalp, symptoms: {contains: patchy_loss}}]
            then: {declare: [{red-flag: patchy_loss}]}
            because: Bare patches need a doctor.
            sources: [{own: true, note: test rule}]
          - id: flag-reaction
            title: A rash from a product is a red flag
            kind: derive
            when: [{fact: uses, reactions: {contains: rash}}]
            then: {declare: [{red-flag: product_reaction}]}
            because: A rash needs a doctor.
            sources: [{own: true, note: test rule}]
          - id: see-doctor
            title: See a doctor first
            kind: referral
            when: [{fact: red-flag, reason: "?reason"}]
            then: {advise: "See a doctor about the {{ reason }}."}
            because: Some signs need a diagnosis.
            sources: [{own: true, note: test rule}]
    """,
    "products.yaml": """
        rules:
          - id: serum-off-scalp
            title: Keep serum off the scalp
            kind: warning
            when: [{fact: uses, product: hair_serum, applied_to: {contains_any: [scalp, roots]}}]
            then: {advise: Put the serum on the lengths only.}
            because: Serum can irritate the scalp.
            sources: [{own: true, note: test rule}]
          - id: mask-not-too-long
            title: Rinse the mask sooner
            kind: warning
            when: [{fact: uses, product: hair_mask, minutes_on: {gt: 30}}]
            then: {advise: Rinse a hair mask out within half an hour.}
            because: Longer does not help.
            sources: [{own: true, note: test rule}]
    """,
    "frizz.yaml": """
        rules:
          - id: frizzy-hair
            title: Frizz means frizzy hair
            kind: derive
            when: [{fact: hair, concerns: {contains: frizz}}]
            then: {declare: [{hair-state: frizzy}]}
            because: Frizz is a sign of dry lengths.
            sources: [{own: true, note: test rule}]
          - id: frizz-wash-less
            title: Wash frizzy hair less often
            kind: recommendation
            when:
              - {fact: hair-state, state: frizzy}
              - {fact: habits, washes_per_week: {ge: 5}}
            then: {advise: Wash less often to keep the natural oils.}
            because: Frequent washing dries the lengths.
            sources: [{own: true, note: test rule}]
    """,
}


@pytest.fixture
def mini(rule_folder, monkeypatch) -> Advisor:
    """The mini knowledge base, also behind the `haircare interview` command."""
    adv = Advisor(Rulebook.load(shipped=rule_folder(MINI_RULES)))
    monkeypatch.setattr(cli, "_advisor", lambda rules_dirs: adv)
    return adv


def drive(interview: Interview, oracle: dict, default: str = "unknown") -> list[str]:
    """Answer every question from ``oracle`` (profile path -> typed text); return the keys asked."""
    asked = []
    while not interview.finished:
        slot = interview.current()
        asked.append(slot.key)
        text = oracle.get(slot.key, "" if slot.key.startswith("client.") else default)
        reply = interview.handle(text)
        assert reply.kind == "answered", (slot.key, text, reply.lines)
        assert len(asked) < 200
    return asked


def interview_cli(*args, input: str = ""):
    return CliRunner().invoke(cli.main, ["interview", *map(str, args)], input=input)


def test_every_input_field_has_a_question_whose_choices_are_the_vocabularys_values():
    vocab = Vocabulary.load()
    book = QuestionBook.load(vocab)
    assert book.check() == []
    asks = {q.ask for q in book.questions}
    for ftype in vocab.types.values():
        if ftype.derived:
            continue
        for name, spec in ftype.fields.items():
            if spec.generated:
                continue
            assert f"{ftype.name}.{name}" in asks
            q = book.by_ask[f"{ftype.name}.{name}"]
            if spec.type in ("choice", "set"):
                assert sorted(q.values()) == sorted(spec.values), q.ask
                assert all(label.strip() for _, label in q.choices), q.ask
    assert {"client.name", "client.consultant", "client.date"} <= asks


def test_a_vocabulary_value_the_questions_lack_is_still_offered_and_reported():
    vocab = Vocabulary.load()
    data = yaml.safe_load((__import__("conftest").ROOT / "facts" / "questions.yaml").read_text())
    scalp = next(q for q in data["questions"] if q["ask"] == "scalp.symptoms")
    del scalp["choices"]["rash"]
    book = QuestionBook.from_data(data, vocab, "questions.yaml")
    assert "rash" in book.by_ask["scalp.symptoms"].values()
    assert any("rash" in problem for problem in book.check())


@pytest.mark.parametrize("kind_ask, typed, value", [
    ("scalp.symptoms", "1,3", ("flaking", "redness")),
    ("scalp.symptoms", "ITCHING flaking", ("flaking", "itching")),
    ("scalp.symptoms", "patchy loss", ("patchy_loss",)),
    ("scalp.symptoms", "none", ()),
    ("scalp.symptoms", "unknown", "unknown"),
    ("hair.type", "3", "curly"),
    ("hair.type", "Coily", "coily"),
    ("habits.washes_per_week", "14", 14),
    ("uses.rinsed_out", "yes", True),
    ("uses.rinsed_out", "N", False),
    ("client.date", "2026-11-22", "2026-11-22"),
    ("client.date", "", ""),
])
def test_answers_are_read_by_number_or_name_case_insensitively(kind_ask, typed, value):
    book = QuestionBook.load(Vocabulary.load())
    assert parse_answer(book.by_ask[kind_ask], typed) == value


@pytest.mark.parametrize("ask, typed, words", [
    ("hair.type", "5", ["1 to 4", "straight"]),
    ("hair.type", "frizzy", ["'frizzy'", "coily"]),
    ("scalp.symptoms", "flaking, dandruff", ["'dandruff'", "flaking"]),
    ("habits.washes_per_week", "15", ["out of range", "0 to 14"]),
    ("habits.washes_per_week", "often", ["not a whole number", "0 to 14"]),
    ("uses.rinsed_out", "maybe", ["yes or no"]),
    ("client.date", "22/11/2026", ["YYYY-MM-DD"]),
    ("hair.type", "", ["please answer"]),
])
def test_a_bad_answer_names_the_allowed_values(ask, typed, words):
    book = QuestionBook.load(Vocabulary.load())
    with pytest.raises(ProfileError) as info:
        parse_answer(book.by_ask[ask], typed)
    for word in words:
        assert word in info.value.what


def test_only_questions_a_pending_rule_tests_are_asked(mini):
    asked = drive(Interview(mini), {"scalp.symptoms": "none", "routine": "none",
                                    "hair.concerns": "dryness"})
    # no rule tests hair type, goals, heat styling or massage; frizz is not a concern, so the
    # washes a week (needed only on the frizz chain) are not asked either
    assert asked == ["client.name", "client.consultant", "client.date", "scalp.symptoms",
                     "routine", "hair.concerns"]


def test_a_derive_chain_makes_its_inputs_relevant(mini):
    asked = drive(Interview(mini), {"scalp.symptoms": "none", "routine": "none",
                                    "hair.concerns": "frizz", "habits.washes_per_week": "6"})
    assert asked[-1] == "habits.washes_per_week"
    interview = Interview(mini)
    drive(interview, {"scalp.symptoms": "none", "routine": "none", "hair.concerns": "frizz",
                      "habits.washes_per_week": "6"})
    assert "frizz-wash-less" in interview.consultation().fired_rules()


def test_product_questions_are_asked_only_where_a_rule_needs_them(mini):
    interview = Interview(mini)
    asked = drive(interview, {"scalp.symptoms": "none", "routine": "shampoo, hair serum, hair mask",
                              "hair.concerns": "none", "routine[1].applied_to": "ends",
                              "routine[2].rinsed_out": "no", "routine[0].reactions": "none",
                              "routine[1].reactions": "none", "routine[2].reactions": "none"})
    entry_questions = [k for k in asked if k.startswith("routine[")]
    # reactions for every product (a red flag), where the serum goes (serum rule), and whether
    # the mask is rinsed out (it decides whether its minutes are asked); nothing else
    assert entry_questions == ["routine[0].reactions", "routine[1].reactions", "routine[2].reactions",
                               "routine[1].applied_to", "routine[2].rinsed_out"]
    again = Interview(mini)
    asked = drive(again, {"scalp.symptoms": "none", "routine": "hair mask", "hair.concerns": "none",
                          "routine[0].rinsed_out": "yes", "routine[0].minutes_on": "45",
                          "routine[0].reactions": "none"})
    assert asked[-2:] == ["routine[0].rinsed_out", "routine[0].minutes_on"]
    assert "mask-not-too-long" in again.consultation().fired_rules()


def test_red_flag_questions_come_before_the_rest_and_a_second_flag_is_still_looked_for(mini):
    interview = Interview(mini)
    asked = drive(interview, {"scalp.symptoms": "patchy loss", "routine": "hair serum",
                              "routine[0].reactions": "rash", "hair.concerns": "none",
                              "routine[0].applied_to": "ends"})
    assert asked.index("routine[0].reactions") < asked.index("hair.concerns")
    assert asked.index("scalp.symptoms") < asked.index("hair.concerns")
    referrals = sorted(a.text for a in interview.consultation().advice if a.kind == "referral")
    assert referrals == ["See a doctor about the patchy_loss.", "See a doctor about the product_reaction."]


def test_fewer_products_in_use_mean_clearly_fewer_questions():
    interview_none, interview_many = Interview(Advisor()), Interview(Advisor())
    base = {"scalp.symptoms": "itching", "hair.type": "curly", "hair.thickness": "fine",
            "hair.concerns": "frizz", "goals": "reduce frizz", "habits.washes_per_week": "3",
            "habits.heat_styling_per_week": "2", "habits.scalp_massage": "never"}
    none = drive(interview_none, {**base, "routine": "none"}, default="unknown")
    many = drive(interview_many, {**base, "routine": "shampoo, hair serum, hair mask, scalp serum, hair oil"},
                 default="unknown")
    assert len(many) >= len(none) + 5, (none, many)
    assert not [k for k in none if k.startswith("routine[")]


def test_an_answer_that_can_undo_advice_already_given_is_still_asked(mini_advisor):
    adv = mini_advisor(massage="""
        id: massage-daily
        title: Massage the scalp every day
        kind: recommendation
        when: [{not: {fact: habits, scalp_massage: daily}}]
        then: {advise: Massage your scalp daily.}
        because: It is good self-care.
        sources: [{own: true, note: test rule}]
    """)
    interview = Interview(adv)
    assert "massage-daily" in interview.consultation().fired_rules()   # before any answer
    asked = drive(interview, {"habits.scalp_massage": "daily"})
    assert asked[-1] == "habits.scalp_massage"
    assert interview.consultation().advice == []


def test_advice_a_red_flag_holds_back_does_not_keep_its_questions_open(mini_advisor):
    adv = mini_advisor(rules="""
        rules:
          - id: flag-patches
            title: Bare patches are a red flag
            kind: derive
            when: [{fact: scalp, symptoms: {contains: patchy_loss}}]
            then: {declare: [{red-flag: patchy_loss}]}
            because: Bare patches need a doctor.
            sources: [{own: true, note: test rule}]
          - id: wash-less
            title: Wash less often
            kind: recommendation
            when:
              - {fact: habits, washes_per_week: {ge: 5}}
              - not: {fact: red-flag}
            then: {advise: Wash less often.}
            because: Frequent washing dries the hair.
            sources: [{own: true, note: test rule}]
    """)
    assert drive(Interview(adv), {"scalp.symptoms": "patchy loss"})[-1] == "scalp.symptoms"
    assert drive(Interview(adv), {"scalp.symptoms": "none"})[-1] == "habits.washes_per_week"


def probes(q) -> list[str]:
    """Answers worth trying for a question: every single choice, all, none, the range ends."""
    if q.kind in ("choice", "set"):
        values = list(q.values())
        return values + ([",".join(values), "none"] if q.kind == "set" else [])
    if q.kind == "int":
        return [str(q.min), str((q.min + q.max) // 2), str(q.max), "1", "3", "7"]
    return ["yes", "no"]


def test_no_question_the_planner_skips_could_have_changed_the_advice():
    """The shipped rules, random clients: answering any skipped question leaves the advice as it was."""
    adv = Advisor()
    rng = random.Random(20261122)
    for _ in range(12):
        interview = Interview(adv)
        while not interview.finished:
            q = interview.current().question
            interview.handle("" if q.fact_type == "client" else rng.choice(probes(q) + ["unknown"]))
        advice = sorted((a.rule, a.text) for a in interview.consultation().advice)
        answers = interview.session.answers
        for slot in interview.book.slots(answers):
            if slot.key in answers or slot.question.fact_type == "client":
                continue
            if interview.planner.applies(slot, answers) is False:
                continue          # its 'when' rules it out (minutes on, for a product not rinsed out)
            for typed in probes(slot.question):
                session = Session(dict(answers), list(interview.session.history))
                session.answer(slot.key, parse_answer(slot.question, typed))
                changed = sorted((a.rule, a.text) for a in adv.consult(session.profile()).advice)
                assert changed == advice, (slot.key, typed, interview.session.profile())


def test_why_names_the_rules_waiting_on_the_answer(mini):
    interview = Interview(mini)
    drive_until(interview, "scalp.symptoms", {})
    lines = "\n".join(interview.handle("why").lines)
    assert "Bare patches are a red flag" in lines and "See a doctor first" in lines
    assert "Frizz means frizzy hair" not in lines
    assert interview.current().key == "scalp.symptoms"       # why is not an answer


def test_why_for_a_question_asked_to_decide_a_follow_up(mini):
    interview = Interview(mini)
    drive_until(interview, "routine[0].rinsed_out",
                {"scalp.symptoms": "none", "routine": "hair mask", "routine[0].reactions": "none",
                 "hair.concerns": "none"})
    lines = "\n".join(interview.why())
    assert "decides whether to ask: How many minutes does the hair mask stay on" in lines
    assert "Rinse the mask sooner (warning)" in lines


def drive_until(interview: Interview, key: str, oracle: dict) -> None:
    while interview.current().key != key:
        interview.handle(oracle.get(interview.current().key, ""))


def test_back_revises_the_answer_and_the_advice_is_recomputed(mini):
    interview = Interview(mini)
    drive_until(interview, "routine", {"scalp.symptoms": "patchy loss"})
    assert [a.kind for a in interview.consultation().advice] == ["referral"]
    assert interview.handle("back").kind == "back"
    assert interview.current().key == "scalp.symptoms"
    interview.handle("none")
    assert interview.consultation().advice == []
    assert interview.session.answers["scalp.symptoms"] == ()
    assert interview.session.history.count("scalp.symptoms") == 1


def test_an_interview_told_to_revise_a_question_asks_it_next_unless_it_was_answered(mini):
    """The web's Back survives a reload: the interview rebuilt for the next page is told which
    question to ask again and asks it next; a question answered meanwhile is not asked again."""
    interview = Interview(mini)
    drive_until(interview, "routine", {"scalp.symptoms": "none"})
    interview.revise("scalp.symptoms")                 # answered: nothing to revise
    assert interview.revising is None and interview.current().key == "routine"
    interview.revise("hair.concerns")
    assert interview.revising == "hair.concerns" and interview.current().key == "hair.concerns"
    interview.handle("none")
    assert interview.revising is None and interview.session.answers["hair.concerns"] == ()


def test_unknown_is_accepted_and_the_profile_still_loads(mini, tmp_path):
    interview = Interview(mini)
    drive(interview, {"routine": "hair serum"}, default="unknown")
    profile = interview.session.profile()
    assert profile["scalp"] == {"symptoms": "unknown"}
    assert profile["routine"][0]["applied_to"] == "unknown"
    path = tmp_path / "p.yaml"
    path.write_text(dump_profile(profile))
    assert mini.consult_file(path).to_json() == interview.consultation().to_json()


def test_the_session_file_round_trips_after_every_answer(mini):
    interview = Interview(mini)
    oracle = {"client.name": "Ana", "client.date": "2026-11-22", "scalp.symptoms": "itching",
              "routine": "hair serum, hair mask", "routine[1].rinsed_out": "yes",
              "routine[1].minutes_on": "40", "routine[0].applied_to": "roots"}
    while not interview.finished:
        interview.handle(oracle.get(interview.current().key, "none"))
        again = Session.parse(interview.session.dump(), "s.yaml", mini.vocabulary)
        assert again.answers == interview.session.answers
        assert again.history == interview.session.history


@pytest.mark.parametrize("text, where", [
    ("schema: haircare-interview/1\nprofile:\n  hair: {type: frizzy}\n", "s.yaml:3"),
    ("schema: haircare-interview/1\nprofile: {}\ninterview:\n  asked:\n  - hair.type\n", "s.yaml:5"),
    ("schema: haircare-interview/1\nprofile:\n  hair: [\n", "s.yaml:4"),
    ("hair: {type: curly}\n", "s.yaml:1"),
    ("schema: haircare-interview/1\nprofile:\n  client: {date: 2026-13-45}\n", "s.yaml"),
])
def test_a_corrupt_session_is_a_profile_error_with_file_and_line(text, where):
    with pytest.raises(ProfileError) as info:
        Session.parse(text, "s.yaml", Vocabulary.load())
    assert info.value.where == where


# -- the command, scripted through CliRunner ---------------------------------------------------------
def test_a_scripted_interview_saves_the_profile_and_the_report(mini, tmp_path):
    session, profile, report = tmp_path / "s.yaml", tmp_path / "p.yaml", tmp_path / "r.json"
    answers = ["Ana Example", "Sam", "flaking", "hair serum", "none", "frizz", "6", "roots"]
    result = interview_cli("--session", session, "--save", profile, "-o", report, "--date", "2026-11-22",
                           input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "Question 4, about" in result.stdout
    assert "+ advice: Keep serum off the scalp" in result.stdout
    assert "Answers:" in result.stdout and "Hair type" in result.stdout.split("Not asked")[1]
    saved = yaml.safe_load(profile.read_text())
    assert saved == {"client": {"name": "Ana Example", "consultant": "Sam", "date": "2026-11-22"},
                     "hair": {"concerns": ["frizz"]}, "scalp": {"symptoms": ["flaking"]},
                     "habits": {"washes_per_week": 6},
                     "routine": [{"product": "hair_serum", "reactions": [], "applied_to": ["roots"]}]}
    advised = CliRunner().invoke(cli.main, ["advise", str(profile), "--format", "json"])
    assert advised.exit_code == 0 and advised.stdout == report.read_text()
    assert '"date": "2026-11-22"' in report.read_text()
    assert yaml.safe_load(session.read_text())["interview"]["finished"] is True
    # a finished session resumes straight to the end: no questions, the report again
    again = interview_cli("--resume", session, "-o", tmp_path / "again.json", input="")
    assert again.exit_code == 0 and "Question" not in again.stdout
    assert (tmp_path / "again.json").read_text() == report.read_text()


def test_bad_answers_are_asked_again_without_a_traceback(mini, tmp_path):
    answers = ["", "", "17", "flaking", "sprays", "none", "none"]
    result = interview_cli("--session", tmp_path / "s.yaml", "--save", tmp_path / "p.yaml",
                           "--date", "2026-12-31", input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert result.stdout.count("Sorry,") == 2
    assert "'17' is not one of the choices" not in result.stdout
    assert re.search(r"Sorry, not a choice: '17'.*flaking", result.stdout)
    assert "Sorry, not a choice: 'sprays'" in result.stdout
    saved = yaml.safe_load((tmp_path / "p.yaml").read_text())
    assert saved == {"client": {"date": "2026-12-31"}, "hair": {"concerns": []},
                     "scalp": {"symptoms": ["flaking"]}, "routine": []}


def test_quit_and_end_of_input_save_and_resume_continues_where_it_stopped(mini, tmp_path):
    session = tmp_path / "s.yaml"
    first = interview_cli("--session", session, "--date", "2026-11-22", input="Ana\nSam\npatchy loss\nquit\n")
    assert first.exit_code == 0 and "4 answer(s) saved" in first.stdout
    assert "continue with: haircare interview --resume 1" in first.stdout
    state = yaml.safe_load(session.read_text())
    assert state["profile"]["scalp"] == {"symptoms": ["patchy_loss"]}
    assert state["interview"]["finished"] is False
    # the end of the input (no quit) also stops and keeps everything
    second = interview_cli("--resume", session, input="none\n")
    assert second.exit_code == 0 and "Stopped." in second.stdout
    assert "Question 4," in second.stdout and "What is the client's name" not in second.stdout
    third = interview_cli("--resume", session, "--save", tmp_path / "p.yaml", input="Unknown\n")
    assert third.exit_code == 0, third.output
    saved = yaml.safe_load((tmp_path / "p.yaml").read_text())
    assert saved["client"] == {"name": "Ana", "consultant": "Sam", "date": "2026-11-22"}
    assert saved["routine"] == [] and saved["hair"] == {"concerns": "unknown"}


def test_why_and_back_at_the_prompt(mini, tmp_path):
    answers = ["", "", "?", "patchy loss", "back", "flaking", "none", "none"]
    result = interview_cli("--session", tmp_path / "s.yaml", "--save", tmp_path / "p.yaml",
                           input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    why = result.stdout.split("> ?", 1)[1].split(">", 1)[0]
    assert "See a doctor first (referral)" in why and "Bare patches are a red flag" in why
    assert "Going back to revise: Scalp." in result.stdout
    saved = yaml.safe_load((tmp_path / "p.yaml").read_text())
    assert saved["scalp"] == {"symptoms": ["flaking"]}
    assert "See a doctor" not in result.stdout.split("Answers:")[1]   # the report: advice recomputed


def test_an_existing_session_is_never_overwritten(mini, tmp_path):
    session = tmp_path / "s.yaml"
    session.write_text("precious\n")
    result = interview_cli("--session", session, input="Ana\n")
    assert result.exit_code == ExitCode.PROFILE
    assert "--resume" in result.stderr and session.read_text() == "precious\n"


def test_a_corrupt_session_file_is_one_error_line_with_file_and_line(mini, tmp_path):
    session = tmp_path / "s.yaml"
    session.write_text("schema: haircare-interview/1\nprofile:\n  scalp: {symptoms: [scaly]}\n")
    result = interview_cli("--resume", session, input="")
    assert result.exit_code == ExitCode.PROFILE
    assert result.stderr.startswith(f"Error: {session}:3: ") and "'scaly'" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_bad_date_option_is_a_usage_error(mini, tmp_path):
    result = interview_cli("--session", tmp_path / "s.yaml", "--date", "tomorrow")
    assert result.exit_code == ExitCode.USAGE and "--date" in result.stderr


def test_with_save_the_profile_so_far_is_written_after_every_answer(mini, tmp_path):
    """Stopping early still leaves a profile that `haircare advise` accepts."""
    profile = tmp_path / "p.yaml"
    result = interview_cli("--session", tmp_path / "s.yaml", "--save", profile, "--date", "2026-11-22",
                           input="Ana\nSam\nflaking\nquit\n")
    assert result.exit_code == 0 and "Stopped." in result.stdout
    assert yaml.safe_load(profile.read_text()) == {"client": {"name": "Ana", "consultant": "Sam",
                                                              "date": "2026-11-22"},
                                                   "scalp": {"symptoms": ["flaking"]}}
    advised = CliRunner().invoke(cli.main, ["advise", str(profile), "--format", "json"])
    assert advised.exit_code == 0, advised.stderr


# -- typed answers, quitting, and what the consultant sees -----------------------------------------
@pytest.mark.parametrize("typed, value", [
    ("oily", ("oiliness",)), ("tight, flakes", ("flaking", "tightness")),
    ("bare patches", ("patchy_loss",)), ("Reacts easily", ("sensitivity",)),
])
def test_answers_may_be_typed_as_the_words_shown(typed, value):
    book = QuestionBook.load(Vocabulary.load())
    assert parse_answer(book.by_ask["scalp.symptoms"], typed) == value


@pytest.mark.parametrize("typed", ["or", "to"])
def test_a_word_several_choices_share_is_not_guessed(typed):
    book = QuestionBook.load(Vocabulary.load())
    with pytest.raises(ProfileError):
        parse_answer(book.by_ask["scalp.symptoms"], typed)


@pytest.mark.parametrize("word", ["exit", "q", "QUIT"])
def test_exit_and_q_stop_and_keep_the_answers_like_quit(mini, tmp_path, word):
    result = interview_cli("--date", "2026-11-22", input=f"Ana\n{word}\nnever read\n")
    assert result.exit_code == 0 and "Stopped. 2 answer(s) saved" in result.stdout


def test_the_live_lines_say_when_an_answer_takes_advice_back(tmp_path):
    """Real rules: before the scalp is known, the warning signs could not be checked; once it is,
    that line is withdrawn, and the consultant is told."""
    result = interview_cli("--date", "2026-11-22", input="Ana\nSam\nflaking\nquit\n")
    assert result.exit_code == 0, result.output
    assert "  – no longer advised: Warning signs could not be checked" in result.stdout


def test_a_byte_that_is_not_utf8_is_refused_and_every_file_reads_back(mini, tmp_path):
    session, profile = tmp_path / "s.yaml", tmp_path / "p.yaml"
    result = CliRunner().invoke(cli.main, ["interview", "--session", str(session), "--save", str(profile),
                                           "--date", "2026-11-22"],
                                input=b"An\xffa\nAna\nS\xc3am\nSam\nquit\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Sorry, that answer has a character that could not be read") == 2
    state = Session.parse(session.read_text(encoding="utf-8"), str(session), Vocabulary.load())
    assert state.answers["client.name"] == "Ana" and state.answers["client.consultant"] == "Sam"
    assert yaml.safe_load(profile.read_text(encoding="utf-8"))["client"]["name"] == "Ana"


def test_save_never_replaces_a_file_the_interview_did_not_write(mini, tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("precious\n")
    refused = interview_cli("--save", profile, input="Ana\n")
    assert refused.exit_code == ExitCode.REPORT and "--force" in refused.stderr
    assert profile.read_text() == "precious\n"
    forced = interview_cli("--save", profile, "--force", "--date", "2026-11-22", input="Ana\nquit\n")
    assert forced.exit_code == 0 and yaml.safe_load(profile.read_text())["client"]["name"] == "Ana"
    # resuming the consultation that wrote it may go on writing it
    resumed = interview_cli("--resume", "1", input="Sam\nquit\n")
    assert resumed.exit_code == 0 and yaml.safe_load(profile.read_text())["client"]["consultant"] == "Sam"


def test_save_output_and_session_may_not_name_one_file(mini, tmp_path):
    result = interview_cli("--save", tmp_path / "x.yaml", "--session", tmp_path / "x.yaml")
    assert result.exit_code == ExitCode.USAGE and "name the same file" in result.stderr


def test_a_session_in_use_by_another_interview_is_refused(mini, tmp_path):
    import fcntl
    import os
    session = tmp_path / "s.yaml"
    first = interview_cli("--session", session, "--date", "2026-11-22", input="Ana\nquit\n")
    assert first.exit_code == 0
    before = session.read_text()
    fd = os.open(tmp_path / ".s.yaml.lock", os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)           # another interview holds it
    try:
        second = interview_cli("--resume", session, input="Sam\n")
    finally:
        os.close(fd)
    assert second.exit_code == ExitCode.PROFILE and "open in another interview" in second.stderr
    assert session.read_text() == before
    third = interview_cli("--resume", session, input="Sam\nquit\n")
    assert third.exit_code == 0 and "Sam" in session.read_text()


def test_the_session_as_data_round_trips(mini):
    talk = Interview(mini)
    talk.preset("client.date", "2026-11-22")
    drive(talk, {"scalp.symptoms": "flaking", "uses.product": "hair serum", "hair.concerns": "frizz"})
    data = talk.session.to_data()
    again = Session.from_data(data, "record 1", mini.vocabulary)
    assert (again.answers, again.history, again.finished, again.preset) == \
           (talk.session.answers, talk.session.history, True, ["client.date"])
    import json
    assert json.loads(json.dumps(data)) == data
    with pytest.raises(ProfileError) as info:
        Session.from_data({**data, "schema": "other"}, "record 1", mini.vocabulary)
    assert info.value.where == "record 1"


class ScriptedConsole:
    """A console that types the given lines and keeps what the interview says (no terminal)."""

    def __init__(self, typed: list[str]):
        self.typed, self.said = list(typed), []

    def say(self, line: str = "") -> None:
        self.said.append(line)

    def ask(self) -> str | None:
        return self.typed.pop(0) if self.typed else None


def test_the_terminal_dialogue_runs_through_a_console_a_test_can_swap(mini, tmp_path, monkeypatch):
    """The interview talks only through its console: a scripted one answers, hears every line, and the answers are stored."""
    from haircare_expert.cli import interview as command
    console = ScriptedConsole(["Ana Example", "Sam", "flaking", "quit"])
    monkeypatch.setattr(command, "make_console", lambda: console)
    result = interview_cli("--date", "2026-11-22", input="this is never read\n")
    assert result.exit_code == 0, result.output
    assert console.typed == [] and "Question 1, about" in "\n".join(console.said)
    assert any(line.startswith("Stopped.") for line in console.said), console.said[-3:]
    assert result.stdout == ""          # every line went through the console
    listed = CliRunner().invoke(cli.main, ["records", "list", "--unfinished", "--format", "json"])
    assert [r["client"] for r in json.loads(listed.stdout)] == ["Ana Example"]
