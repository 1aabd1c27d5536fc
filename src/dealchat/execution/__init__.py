"""Execution: sending orders to a Counterparty port and taking back fills."""
