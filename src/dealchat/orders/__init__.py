"""Orders: quotes, tickets awaiting confirmation, placed and filled orders."""
