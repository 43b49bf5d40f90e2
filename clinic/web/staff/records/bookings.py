"""The desk's bookings (issue 16): moving one booking, and booking for a youth who phones in."""
