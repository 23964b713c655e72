"""Run ledger, data-quality monitor and success gate for the ELT suite."""
