"""Import a core-banking holdings export: ``manage.py import_holdings FILE --mapping MAPPING``.

The same engine, options and exit codes as import_customers (0 all imported, 1 some rows
rejected, 2 file or mapping unusable); rows are upserted on their external reference.
"""

from __future__ import annotations

from customers import importing
from customers.management.commands import import_customers


class Command(import_customers.Command):
    help = "Import holdings from a core-banking CSV export (UTF-8, UTF-8 with BOM or GBK), driven by a mapping."
    kind = importing.ImportKind.HOLDINGS
