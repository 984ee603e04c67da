"""``syncd run``: the long-running service (scheduler, ops HTTP server, webhooks in, leadership).
See docs/daemon.md."""
