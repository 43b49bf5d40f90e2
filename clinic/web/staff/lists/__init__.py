"""The lists screens: each clinic day's standby list with the seats offered from it, and the
program's waiting list with its invitations; reordering, removing and inviting by hand
(``clinic.booking.lists``, ``clinic.booking.offers``; reads in ``clinic.booking.list_reads``).

May import the capabilities, the staff blueprint (``bp``, ``requires``) and the shared web
modules; never another screen."""
