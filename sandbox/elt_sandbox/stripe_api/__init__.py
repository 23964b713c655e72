"""A local Stripe API: Stripe-shaped objects consistent with the sandbox shop orders."""
