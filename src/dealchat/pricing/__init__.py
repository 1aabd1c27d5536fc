"""Pricing: indicative prices from a PriceSource port."""
