"""The adaptive interview: questions as data, a planner that asks only what can still change the
advice, and the session state that is saved after every answer.

* :class:`QuestionBook` (:mod:`haircare_expert.knowledge.questions`: the questions are knowledge)
  reads ``facts/questions.yaml``: one :class:`Question` per input field of the vocabulary, in the
  order of conversation.
* :class:`Session` holds the answers (keyed by profile path: ``hair.type``, ``goals``,
  ``routine``, ``routine[1].per_week``) and the order they were given; it turns them into a
  profile document and into the text of a session file, and back.
* :class:`Planner` decides, from the rules, which questions can still change the advice; its
  walk over the rules (``walk``) is kept between answers and redone only where an answer
  changed what it read, over what ``rule_index`` works out once per rulebook.
* :class:`Interview` (``dialogue``) ties them to an :class:`~haircare_expert.consult.advisor.Advisor`: it
  recomputes the advice from the answers at each step and interprets what the consultant types
  (an answer, ``?``/``why``, ``back``, ``unknown``, ``quit``).

Pure library: nothing here prompts, prints or writes a file; the ``interview`` command does.
"""
from haircare_expert.consult.interview.answers import allowed_words, command_of, hint, parse_answer
from haircare_expert.consult.interview.dialogue import Interview, Reply, describe_rule
from haircare_expert.consult.interview.planner import Plan, Planner
from haircare_expert.consult.interview.session import Session, dump_profile
from haircare_expert.knowledge.questions import Question, QuestionBook, Slot, key_of, words

__all__ = ["Interview", "Reply", "Session", "QuestionBook", "Question", "Slot", "Planner", "Plan",
           "parse_answer", "command_of", "hint", "allowed_words", "dump_profile", "describe_rule",
           "key_of", "words"]
