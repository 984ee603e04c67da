"""The push side: the dispatcher (per-sink cursor, deliveries, retries, dead letters), status
readback and write-back of the onboarding status to SmartRecruiters. Uses sinks, mirror and ats."""
