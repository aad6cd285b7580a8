"""Demo-mode credentials and numbers, used when no Twilio account is configured."""

# Shaped like real values so twilio-python and the carrier accept them; they open nothing.
DEMO_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEMO_AUTH_TOKEN = "demo-auth-token-not-secret"
DEMO_HOTLINE_NUMBER = "+861012348000"
# The demo carrier listens this far above the web port, so PORT alone keeps two hotlines apart.
DEMO_CARRIER_PORT_OFFSET = 50
DEMO_CARRIER_PORT = 5000 + DEMO_CARRIER_PORT_OFFSET


def demo_carrier_port(web_port: int) -> int:
    """The demo carrier's port for a web port: 50 above it (5050 for the default 5000)."""
    return web_port + DEMO_CARRIER_PORT_OFFSET
