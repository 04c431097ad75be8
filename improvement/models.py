"""Models of the continuous improvement chapter; added by the issue that builds it."""
