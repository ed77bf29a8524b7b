"""A consultation: facts in, advice, plan and schedule out; the interview; batch runs."""
