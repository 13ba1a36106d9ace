"""Read models: pure projectors, store interfaces, and one adapter module per technology."""
