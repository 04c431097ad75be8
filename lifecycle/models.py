"""Models of the lifecycle and churn chapter; added by the issue that builds it."""
