"""Pre-trade controls: a pure engine over rules as data, limit reservation, four-eyes holds."""
