"""Builders for the advisor's data-driven tests: a statement (through sql_model.describe), a schema, a plan."""
