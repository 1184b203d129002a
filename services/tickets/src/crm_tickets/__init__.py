"""CRM tickets service: omnichannel intake, queues, SLA timers, escalation, CSAT."""
