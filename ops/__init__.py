"""Web consoles and JSON API for ops staff, supervisors and agents."""
