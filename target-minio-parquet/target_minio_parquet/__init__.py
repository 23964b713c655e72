"""Singer target writing typed Parquet into a bronze lake."""
