"""The interview in a real pseudo-terminal (python -m haircare_expert), and a session that survives SIGKILL and resumes."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import yaml
from click.testing import CliRunner

from haircare_expert.cli import main
from haircare_expert.consult.interview import QuestionBook, Session
from haircare_expert.knowledge.vocabulary import Vocabulary
from haircare_expert.store import Store

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")
#: A guard so a broken build fails instead of hanging; nothing here measures speed.
GUARD_SECONDS = 120
BOOK = QuestionBook.load(Vocabulary.load())


class Terminal:
    """`python -m haircare_expert ...` on the slave side of a pty; we type on the master side."""

    def __init__(self, args, cwd):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = {**os.environ, "TERM": "xterm", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "haircare_expert", "interview", *map(str, args)],
                                     stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.fd = master
        self.text = ""
        self.seen = 0

    def _pump(self, deadline) -> bool:
        ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:          # the child closed the terminal
            return False
        if not data:
            return False
        self.text += _ESCAPES.sub("", data.decode("utf-8", "replace"))
        return True

    def expect_prompt(self) -> str:
        """Read until the next '> ' prompt; return what was printed since the last one."""
        deadline = time.monotonic() + GUARD_SECONDS
        while not self.text[self.seen:].endswith("> "):
            if not self._pump(deadline):
                raise AssertionError(f"no prompt; the terminal shows:\n{self.text[-2000:]}")
        chunk, self.seen = self.text[self.seen:], len(self.text)
        return chunk

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\n")

    def finish(self) -> int:
        deadline = time.monotonic() + GUARD_SECONDS
        while self._pump(deadline):
            pass
        code = self.proc.wait(timeout=GUARD_SECONDS)
        os.close(self.fd)
        return code

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=GUARD_SECONDS)
        os.close(self.fd)


def flat(text: str) -> str:
    """The text with line wrapping undone (the terminal is 80 columns wide)."""
    return " ".join(text.split())


def question_of(screen: str) -> tuple[str, str]:
    """The question on screen, as (ask, product), recognised from the wording in questions.yaml."""
    lines = screen.splitlines()
    heading = max(i for i, line in enumerate(lines) if re.match(r"Question \d+, ", line))
    body = []
    for line in lines[heading + 1:]:
        if re.match(r"\s+\d+\. |> ", line) or not line.strip():
            break
        body.append(line)
    shown = flat(" ".join(body))
    for q in BOOK.questions:
        pattern = re.escape(flat(q.text)).replace(re.escape("{product}"), "(.+?)") + r"(?: \(.*\))?"
        match = re.fullmatch(pattern, shown)
        if match:
            return q.ask, (match.group(1) if match.groups() else "")
    raise AssertionError(f"unknown question {shown!r}")


def answer_for(ask: str, client: dict) -> str:
    if ask in client:
        return client[ask]
    return "" if ask.startswith("client.") else "unknown"


CLIENT = {"client.name": "Ana Example", "client.consultant": "Sam Adviser",
          "scalp.symptoms": "flaking, itching", "uses.product": "hair serum, shampoo",
          "uses.applied_to": "scalp, roots", "uses.per_week": "7", "hair.type": "curly",
          "hair.concerns": "frizz", "habits.washes_per_week": "3"}


def test_a_consultant_runs_the_interview_in_a_real_terminal(tmp_path):
    term = Terminal(["--session", "s.yaml", "--save", "p.yaml", "-o", "r.html"], tmp_path)
    screen = term.expect_prompt()
    assert "Question 1, about" in screen and question_of(screen) == ("client.name", "")
    term.type("Ana Example")
    screen = term.expect_prompt()
    term.type("why")
    assert "do not change the advice" in flat(term.expect_prompt())
    term.type("Sam Adviser")
    asked = []
    bad_done = False
    while True:
        try:
            screen = term.expect_prompt()
        except AssertionError:
            break
        if "Sorry," in screen:
            assert re.search(r"type a number|type the numbers|whole number|yes or no", flat(screen))
        ask, _ = question_of(screen) if re.search(r"Question \d+, ", screen) else (asked[-1], "")
        if ask == "scalp.symptoms" and not bad_done:
            bad_done = True
            term.type("99")
            assert "Sorry, not a choice: '99'" in flat(term.expect_prompt())
        asked.append(ask)
        term.type(answer_for(ask, CLIENT))
    assert term.finish() == 0, term.text[-3000:]
    assert asked.index("scalp.symptoms") < asked.index("uses.product")
    assert "Profile saved to p.yaml" in term.text and "Report written to r.html" in term.text
    assert max(len(line) for line in term.text.splitlines()) <= 80      # wrapped to the terminal
    assert "Traceback" not in term.text
    html = (tmp_path / "r.html").read_text()
    assert "Ana Example" in html
    advised = CliRunner().invoke(main, ["advise", str(tmp_path / "p.yaml"), "--format", "json"])
    assert advised.exit_code == 0 and '"name": "Ana Example"' in advised.stdout


def test_a_killed_interview_loses_at_most_the_answer_being_typed_and_resumes(tmp_path):
    session = tmp_path / "s.yaml"
    term = Terminal(["--session", session, "--date", "2026-11-22"], tmp_path)
    for answer in ("Ana Example", "Sam Adviser"):
        term.expect_prompt()
        term.type(answer)
    screen = term.expect_prompt()
    assert question_of(screen)[0] == "scalp.symptoms"
    term.type("flaking, itching")
    term.kill()                     # no time to finish: the file is the old or the new one, whole
    state = Session.parse(session.read_text(), str(session), Vocabulary.load())
    assert state.history[:3] == ["client.date", "client.name", "client.consultant"]
    assert len(state.history) in (3, 4)
    with Store.open() as store:     # the records database holds the same answers, committed
        (record,) = store.list()
        assert record.client == "Ana Example" and not record.finished
        assert record.answers in (3, 4)

    term = Terminal(["--resume", record.id, "--save", "p.yaml"], tmp_path)
    first = True
    while True:
        try:
            screen = term.expect_prompt()
        except AssertionError:
            break
        ask, _ = question_of(screen)
        if first:
            assert not ask.startswith("client."), "resumed at the start"
            first = False
        term.type(answer_for(ask, CLIENT))
    assert term.finish() == 0, term.text[-3000:]
    profile = yaml.safe_load((tmp_path / "p.yaml").read_text())
    assert profile["client"] == {"name": "Ana Example", "consultant": "Sam Adviser", "date": "2026-11-22"}
    assert profile["scalp"] == {"symptoms": ["flaking", "itching"]}
    assert yaml.safe_load(session.read_text())["interview"]["finished"] is True   # remembered --session
    with Store.open() as store:
        assert store.get(record.id).finished


def test_killing_the_interview_again_and_again_never_loses_an_answer_it_showed_as_taken(tmp_path):
    """Kill at a different moment each round (right after typing, after a short wait, at a
    question): every answer followed by the next question is in the records, the record always
    reads back, and resuming goes on from there."""
    term = Terminal(["--date", "2026-11-22"], tmp_path)
    taken = 1                                   # the date, given as an option
    for round_, wait in enumerate((0.0, 0.05, 0.3, None)):
        if round_:
            term = Terminal(["--resume", "1"], tmp_path)
        screen = term.expect_prompt()
        ask, _ = question_of(screen)
        term.type(answer_for(ask, CLIENT) or "Someone")
        term.expect_prompt()                    # the next question: that answer is committed
        taken += 1
        ask, _ = question_of(term.text[max(0, term.text.rfind("Question")):])
        if wait is not None:
            term.type(answer_for(ask, CLIENT) or "Someone")
            time.sleep(wait)
        term.kill()
        with Store.open() as store:
            record = store.get(1)
            state = Session.from_data(record.session, "record 1", Vocabulary.load())
        assert len(state.history) in (taken, taken + 1), (round_, state.history)
        taken = len(state.history)
    assert not record.finished and record.client
