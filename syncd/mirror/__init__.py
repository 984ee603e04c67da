"""The mirror: SQL tables holding the tenant as last seen, the outbox of changes, the sync
bookkeeping (checkpoints, runs, quarantine), and reporting queries. The only module that writes
SQL. It knows nothing of HTTP or of the SmartRecruiters client."""
