"""A local stand-in for Twilio: the REST subset the hotline uses and a call driver that runs TwiML.

Used by the demo (`hotline serve` without a Twilio account), `hotline call`, tests and benchmarks.
"""

from importlib import resources


def demo_agents_path() -> str:
    """Return the path of the packaged demo phone file (agents' phones by number)."""
    return str(resources.files("carrier") / "demo_agents.yaml")
