"""Models of the customer information chapter; added by the issue that builds it."""
