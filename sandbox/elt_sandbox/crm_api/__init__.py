"""The legacy CRM: a slow, flaky, page-numbered customer API with messy records."""
