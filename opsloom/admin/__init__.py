"""The platform's administration: people, departments, access and the audit trail, for platform admins."""
