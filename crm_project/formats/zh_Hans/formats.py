"""Number formats for zh-hans as Chinese banks print amounts: 1,234,567.89 (Django's default
zh_Hans formats do not group thousands)."""

DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
