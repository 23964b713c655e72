"""Singer tap for the legacy CRM API."""
