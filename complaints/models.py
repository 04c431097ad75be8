"""Models of the complaints chapter; added by the issue that builds it."""
