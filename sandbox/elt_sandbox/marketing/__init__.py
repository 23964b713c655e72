"""Marketing exports: a year of weekly CSV files, messy on purpose, with a manifest."""
