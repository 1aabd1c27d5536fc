"""FIX 4.4 sessions to liquidity providers on QuickFIX."""
