"""The messages screen (front desk, admin): what went to whom, and sending again
(``clinic.messaging.history``)."""
