"""The published language: CloudEvents envelope and the event catalog."""
