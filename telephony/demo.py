"""Demo-mode credentials and numbers, used when no Twilio account is configured."""

# Shaped like real values so twilio-python and the carrier accept them; they open nothing.
DEMO_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEMO_AUTH_TOKEN = "demo-auth-token-not-secret"
DEMO_HOTLINE_NUMBER = "+861012348000"
DEMO_CARRIER_PORT = 5050
