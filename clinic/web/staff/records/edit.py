"""Editing a youth's details (issue 16): contact, names, language, channel, guardian."""
