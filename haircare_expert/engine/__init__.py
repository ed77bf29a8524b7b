"""Inference: the rulebook compiled onto experta, and a plain evaluator beside it."""
