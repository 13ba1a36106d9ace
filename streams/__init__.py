"""The Faust app and its thin agents (the only package that imports faust)."""
