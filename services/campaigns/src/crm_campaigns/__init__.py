"""CRM campaigns service (not built yet)."""
