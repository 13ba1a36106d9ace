"""What operators and analysts run: the `chirp` command, replay/promote/retire/verify/status, dead letters,
tap/export and the demo loader. The top of the system: it may import every other package; nothing imports it."""
