"""Settings, client factories, topic and CQL migrations, and the local service launcher."""
