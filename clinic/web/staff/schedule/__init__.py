"""The schedule screens (admin): the coming clinic days, one date's editor and the call list of
a change's cancellations (``clinic.schedule``).

May import the capabilities, the staff blueprint (``bp``, ``requires``) and the shared web
modules; never another screen."""
