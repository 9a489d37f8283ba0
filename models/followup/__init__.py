"""Following a round up: completeness, key totals, flagged values, reminders due."""
