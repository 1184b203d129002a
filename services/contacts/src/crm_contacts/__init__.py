"""CRM contacts service: people, companies, roles, consent ledger, interactions, GDPR."""
