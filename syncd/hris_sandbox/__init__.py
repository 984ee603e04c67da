"""Local HRIS servers (BambooHR, Personio) that speak each vendor's documented API, with a
``/_sandbox`` control API for tests. Imports nothing from ``syncd.sinks``: a misreading of a
vendor's API must not hide in both the sink and its test oracle."""
