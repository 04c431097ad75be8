"""Models of the effect evaluation chapter; added by the issue that builds it."""
