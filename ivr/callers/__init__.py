"""The caller's webhooks: greeting, language, area, intake, the waiting room, screening, survey."""
