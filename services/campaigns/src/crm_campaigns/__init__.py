"""CRM campaigns service: calendar, segments, consent-aware audiences, sending, touches."""
