"""Singer tap for the e-commerce PostgreSQL database (and any other Postgres)."""
