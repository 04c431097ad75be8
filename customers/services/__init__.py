"""Writes for customers (STYLE.md §1: keyword-only, typed, atomic), split by concern:

- ``pii``: exact identifier searches, PII reveals and reads, audited;
- ``interactions``: contacts recorded on the page or through the API;
- ``data_quality``: the data-quality policy and pass;
- ``imports``: import runs and admin import jobs (the engine is ``customers.importing``);
- ``assignment``: RMs for the customers an import left unassigned;
- ``api``: the REST API's customer, holding and product upserts;
- ``transactions``: bulk ingest of transactions, with its row validation;
- ``sharing``: sharing one customer with a named colleague until a day.

The rules a customer's values must meet live in ``customers.rules``. Callers keep writing
``from customers import services; services.customer_pii_reveal(...)``: every public name is
re-exported here. ``customers.importing`` never imports this package (no cycle).
"""

from __future__ import annotations

from customers.completeness import COMPLETENESS_FIELD_COUNT
from customers.services.api import (
    AUDIT_API_CUSTOMER_CREATE,
    AUDIT_API_CUSTOMER_UPDATE,
    AUDIT_API_HOLDING_UPSERT,
    AUDIT_API_PRODUCT_UPSERT,
    CUSTOMER_API_REQUIRED_ON_CREATE,
    CUSTOMER_API_WRITABLE_FIELDS,
    customer_create,
    customer_update,
    customer_upsert_by_external_id,
    holding_upsert,
    product_upsert,
)
from customers.services.assignment import (
    AUDIT_RM_ASSIGN,
    customer_relationship_manager_assign_bulk,
)
from customers.services.data_quality import (
    AUDIT_DATA_QUALITY_POLICY_CREATE,
    DATA_QUALITY_BATCH_SIZE,
    DATA_QUALITY_POLICY_LOCK_KEY,
    DATA_QUALITY_RUN_LOCK_KEY,
    DATA_QUALITY_TASK,
    DataQualityRunResult,
    data_quality_policy_create,
    data_quality_run,
    data_quality_run_queue,
    resident_id_check_character,
)
from customers.services.imports import (
    AUDIT_IMPORT,
    IMPORT_JOB_ERROR_MAX_LENGTH,
    IMPORT_JOB_TASK,
    IMPORT_PROGRESS_INTERVAL_SECONDS,
    import_job_create,
    import_job_run,
    import_job_start,
    import_run,
)
from customers.services.interactions import (
    AUDIT_API_INTERACTION_RECORD,
    INTERACTION_EARLIEST,
    INTERACTION_FUTURE_TOLERANCE,
    interaction_record,
    interaction_record_by,
)
from customers.services.pii import (
    AUDIT_IDENTIFIER_SEARCH,
    AUDIT_OUT_OF_SCOPE,
    PII_FIELDS,
    customer_identifier_lookup,
    customer_identifier_search,
    customer_out_of_scope_record,
    customer_pii_read_record,
    customer_pii_reveal,
)
from customers.services.sharing import customer_share, customer_share_revoke
from customers.services.transactions import (
    AUDIT_API_TRANSACTIONS_INGEST,
    TRANSACTION_AMOUNT_PATTERN,
    TRANSACTION_BULK_FIELDS,
    TRANSACTION_BULK_MAX_ROWS,
    TRANSACTION_EARLIEST,
    TRANSACTION_FUTURE_TOLERANCE,
    TransactionBatchRejected,
    TransactionIngestResult,
    transaction_bulk_ingest,
)

__all__ = [
    "AUDIT_API_CUSTOMER_CREATE",
    "AUDIT_API_CUSTOMER_UPDATE",
    "AUDIT_API_HOLDING_UPSERT",
    "AUDIT_API_INTERACTION_RECORD",
    "AUDIT_API_PRODUCT_UPSERT",
    "AUDIT_API_TRANSACTIONS_INGEST",
    "AUDIT_DATA_QUALITY_POLICY_CREATE",
    "AUDIT_IDENTIFIER_SEARCH",
    "AUDIT_IMPORT",
    "AUDIT_OUT_OF_SCOPE",
    "AUDIT_RM_ASSIGN",
    "COMPLETENESS_FIELD_COUNT",
    "CUSTOMER_API_REQUIRED_ON_CREATE",
    "CUSTOMER_API_WRITABLE_FIELDS",
    "DATA_QUALITY_BATCH_SIZE",
    "DATA_QUALITY_POLICY_LOCK_KEY",
    "DATA_QUALITY_RUN_LOCK_KEY",
    "DATA_QUALITY_TASK",
    "IMPORT_JOB_ERROR_MAX_LENGTH",
    "IMPORT_JOB_TASK",
    "IMPORT_PROGRESS_INTERVAL_SECONDS",
    "INTERACTION_EARLIEST",
    "INTERACTION_FUTURE_TOLERANCE",
    "PII_FIELDS",
    "TRANSACTION_AMOUNT_PATTERN",
    "TRANSACTION_BULK_FIELDS",
    "TRANSACTION_BULK_MAX_ROWS",
    "TRANSACTION_EARLIEST",
    "TRANSACTION_FUTURE_TOLERANCE",
    "DataQualityRunResult",
    "TransactionBatchRejected",
    "TransactionIngestResult",
    "customer_create",
    "customer_identifier_lookup",
    "customer_identifier_search",
    "customer_out_of_scope_record",
    "customer_pii_read_record",
    "customer_pii_reveal",
    "customer_relationship_manager_assign_bulk",
    "customer_share",
    "customer_share_revoke",
    "customer_update",
    "customer_upsert_by_external_id",
    "data_quality_policy_create",
    "data_quality_run",
    "data_quality_run_queue",
    "holding_upsert",
    "import_job_create",
    "import_job_run",
    "import_job_start",
    "import_run",
    "interaction_record",
    "interaction_record_by",
    "product_upsert",
    "resident_id_check_character",
    "transaction_bulk_ingest",
]
