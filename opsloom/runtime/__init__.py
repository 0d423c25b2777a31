"""Interpreters of published metadata: forms and records, conditions, APIs."""
