"""After-hours voicemail: recording, processing, encryption, triage, retention and callbacks."""
