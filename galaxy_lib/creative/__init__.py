"""Creative workflow: variants, brand guardrails, pre-flight scoring, recommendation and budget allocation."""
