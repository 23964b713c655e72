"""Dagster as the orchestrator of the project's Meltano jobs.

Everything is generated from `meltano.yml` (read with Meltano's own parser), so a job or
schedule is declared once, there. `elt_orchestration.definitions:defs` is the code location.
"""
