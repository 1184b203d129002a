"""CRM opportunities service (not built yet)."""
