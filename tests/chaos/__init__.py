"""The chaos suite: real `hotline serve` processes and the carrier, callers at every step of a
call, one fault at a time (Redis, the worker, the carrier's REST API, status callbacks, hang-ups,
a second serve), and four invariants checked after each from Redis, the event stream, the
carrier's transcripts and the supervisors' alert feed. `make chaos` runs the full matrix
(`python -m tests.chaos`); `test_chaos_short.py` runs one scenario per fault kind in `make test`.
"""
