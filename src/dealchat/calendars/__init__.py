"""Value dates and business days, from the `holidays` package's calendars (no hand-typed lists)."""
