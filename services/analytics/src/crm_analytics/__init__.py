"""CRM analytics service (not built yet)."""
