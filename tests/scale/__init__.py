"""The hotline on several hosts for real (network namespaces, HAProxy, Redis with Sentinel):
`make scale-test` runs `python -m tests.scale`; nothing here is collected by pytest."""
