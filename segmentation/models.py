"""Models of the classification and tiering chapter; added by the issue that builds it."""
