"""The agents' webhooks: their legs (whisper, accept, status, done), the keypad line, the bridge."""
