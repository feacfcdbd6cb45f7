"""Services: the one write path. Each opens a transaction, locks the row, checks the policy, runs the
transition, writes the journal and schedules notifications on commit."""
