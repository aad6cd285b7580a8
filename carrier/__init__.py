"""A local stand-in for Twilio: the REST subset the hotline uses and a call driver that runs TwiML.

Used by the demo (`hotline serve` without a Twilio account), `hotline call`, tests and benchmarks.
"""
