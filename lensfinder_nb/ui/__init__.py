"""Widgets and pages.  Widgets never touch DuckDB: they call sessions and the store."""
