"""Sinks: the targets hires are delivered to (an HRIS, a webhook, a file drop). The interface is
``syncd.sinks.base.Sink``; implementations are found through the entry-point group
``syncd.sinks`` (``syncd.sinks.registry``), so a separate package adds one without a fork.
Imports nothing from ``syncd.mirror`` or ``syncd.ats``."""
