"""The visit list export (stub: being written)."""
