"""The thin FastAPI service: validates and authenticates commands, appends events, serves reads."""
