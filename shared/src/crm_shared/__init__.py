"""The CRM chassis: what every service needs and no service owns."""
