"""CRM tickets service (not built yet)."""
