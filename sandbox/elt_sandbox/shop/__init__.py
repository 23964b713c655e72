"""The e-commerce shop database: schema, deterministic data, and seeding."""
