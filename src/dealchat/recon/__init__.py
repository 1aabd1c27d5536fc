"""End-of-day reconciliation: statements and confirmations against booked settlements."""
