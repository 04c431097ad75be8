"""A test-only model carrying encrypted PII fields (installed by crm_project.settings.test only)."""
