"""Twilio's webhooks, by who is on the line: the caller's menu (`callers/`), the agents' legs
(`agents/`) and the crisis path (`crisis/`), with what every webhook shares (`webhook.py`)."""
