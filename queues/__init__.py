"""Redis and RQ: every key in one module, calls, presence, reservations, jobs and events."""
