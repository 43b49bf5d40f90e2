"""The reports page (stub: being written)."""
