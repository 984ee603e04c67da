"""The resource catalogue and the poller engine: wires the SmartRecruiters client (``syncd.ats``)
to the mirror (``syncd.mirror``)."""
