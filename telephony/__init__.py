"""The Twilio edge: the one gateway to Twilio's REST API and the webhook signature check."""
