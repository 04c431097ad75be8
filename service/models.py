"""Models of the service and satisfaction chapter; added by the issue that builds it."""
