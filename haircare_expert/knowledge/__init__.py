"""The knowledge base: vocabulary, rule files, conditions, lint and rule tests."""
