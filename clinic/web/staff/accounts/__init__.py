"""The staff accounts screens (admin), each person's own password, and the settings page
(``clinic.accounts``).

May import the capabilities, the staff blueprint (``bp``, ``requires``) and the shared web
modules; never another screen."""
