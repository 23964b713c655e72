"""Singer tap for the marketing team's CSV exports."""
