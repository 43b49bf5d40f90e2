"""The messages screen (front desk, admin): what went to whom, and sending again
(``clinic.messaging.history``).

May import the capabilities, the staff blueprint (``bp``, ``requires``) and the shared web
modules; never another screen."""
