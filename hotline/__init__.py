"""The hotline's process and app set-up: the app factory, settings, logging, health, the CLI and
`hotline serve`. The top floor: it wires the rooms below it and nothing imports it."""
