"""Log-based change capture (LOG_BASED streams) with the built-in `pgoutput` plugin."""
