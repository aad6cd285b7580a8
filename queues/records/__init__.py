"""Durable call records: one row per call and per agent state interval, kept in SQL for years."""
