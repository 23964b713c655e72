"""Singer tap for Stripe payments."""
