"""A reference ERP bridge: how an ERP team integrates with the CRM through Kafka alone."""
