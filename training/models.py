"""Models of the training chapter; added by the issue that builds it."""
