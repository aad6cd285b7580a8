"""The supervisors' webhooks: the legs that ring them into live calls (listen-in)."""
