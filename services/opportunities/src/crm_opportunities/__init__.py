"""CRM opportunities service: leads, routing, teams, pipelines, deals, quotes and forecast."""
