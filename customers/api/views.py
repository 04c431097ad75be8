"""Customers, holdings, interactions, products and bulk transactions for other bank systems (issue #4).

Each handler: parse (an Input serializer, shape only) → authorize (the permission class per
method; the object through customers.selectors, so a foreign customer is a 404) → one service or
selector call → render. Errors leave in the one shape of core.api.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core import audit
from core.api import ApiErrorOutput, path_id_or_404
from core.api.pagination import KeysetPagination
from core.idempotency import idempotent
from core.parsers import PayloadTooLarge
from customers import selectors, services
from customers.api import permissions as api_permissions
from customers.api import serializers as io
from customers.models import Customer, Product

CUSTOMERS_TAG = ["customers"]
PRODUCTS_TAG = ["products"]
TRANSACTIONS_TAG = ["transactions"]

CUSTOMER_ID_PARAMETER = OpenApiParameter("customer_id", int, OpenApiParameter.PATH,
                                         description="The customer's id in the CRM.")
EXTERNAL_ID_PARAMETER = OpenApiParameter("external_id", str, OpenApiParameter.PATH, pattern=io.CODE_PATTERN,
                                         description="Customer number from core banking.")
PRODUCT_CODE_PARAMETER = OpenApiParameter("code", str, OpenApiParameter.PATH, pattern=io.CODE_PATTERN,
                                          description="Product code.")
HOLDING_PRODUCT_PARAMETER = OpenApiParameter("product_code", str, OpenApiParameter.PATH, pattern=io.CODE_PATTERN,
                                             description="Product code.")

QUERY_SERIALIZERS = (io.CustomerListQueryInput, io.ProductListQueryInput)
CONFLICT_RESPONSE = OpenApiResponse(ApiErrorOutput, description="Conflicts with a stored object (see message).")
MASKING_NOTE = (
    "PII (id_number, phone, email, address) is masked unless the caller is an API key with customers:reveal; "
    "an unmasked response is recorded in the audit log (customer ids and field names, never values). Staff "
    "sessions always get masked values, whatever their role: revealing is a page action."
)
WRITE_MASKING_NOTE = (
    "The response always carries PII (id_number, phone, email, address) masked, even for an API key with "
    "customers:reveal: the caller sent those values, and a response kept for an Idempotency-Key replay must "
    "hold no plaintext PII. Read the customer back with GET (customers:reveal) for unmasked values."
)
SCOPE_NOTE = (
    "An API key sees every customer (or only its branch's when the key is limited to a branch); a signed-in "
    "user sees the customers their role allows. A customer outside the caller's scope is a 404."
)

CUSTOMER_EXAMPLE = {
    "external_id": "C000012345", "name": "王芳", "gender": "female", "birth_date": "1985-03-07",
    "occupation": "教师", "id_number": "110105198503070019", "phone": "13812345678",
    "email": "wang.fang@example.cn", "address": "北京市朝阳区建国路88号", "branch": "B0101",
    "relationship_manager": "S00001", "customer_since": "2015-06-01", "status": "active",
    "total_assets": "250000.00", "liabilities": "0.00", "annual_income": "120000.00", "credit_rating": "A",
    "risk_tolerance": "R2", "consent_data_processing": "given", "consent_marketing": "withdrawn",
    "consent_channel": "branch", "preferred_channel": "mobile",
}
INVALID_EXAMPLE = OpenApiExample(
    "Invalid input", status_codes=["400"], response_only=True,
    value={"error": {"code": "invalid", "message": "The input is not valid.",
                     "fields": {"phone": ["Enter an 11-digit mainland mobile number (13-19...)."]}}},
)
NOT_FOUND_EXAMPLE = OpenApiExample(
    "Not found or outside your scope", status_codes=["404"], response_only=True,
    value={"error": {"code": "not_found", "message": "Not found.", "fields": {}}},
)


class CustomerPagination(KeysetPagination):
    ordering = ("id",)


class HoldingPagination(KeysetPagination):
    ordering = ("-closed_on", "-opened_on", "-id")  # open holdings (no closing date) first, then newest


class InteractionPagination(KeysetPagination):
    ordering = ("-id",)  # most recently recorded first


class ProductPagination(KeysetPagination):
    ordering = ("id",)


def _customer_or_404(request, customer_id: str) -> Customer:
    # The URL takes any segment, so a malformed id is a JSON 404 like an unknown one (not Django's HTML page).
    customer_id = path_id_or_404(customer_id)
    try:
        return selectors.customer_get_for_principal(principal=request.user, customer_id=customer_id)
    except Customer.DoesNotExist:
        services.customer_out_of_scope_record(user=request.user, customer_id=customer_id)
        raise exceptions.NotFound() from None


def _code_or_400(value: str, *, field: str) -> str:
    try:
        io.code_validator(value)
    except DjangoValidationError as exc:
        raise exceptions.ValidationError({field: [str(io.code_validator.message)]}) from exc
    return value


def _render_customers(request, customers: list[Customer]) -> list[dict]:
    """Render customers for a read: unmasked (and audited) only for an API key with customers:reveal."""
    reveal = api_permissions.may_read_pii_unmasked(request.user)
    rendered = [io.customer_output(customer, reveal=reveal) for customer in customers]
    if reveal:
        services.customer_pii_read_record(by=request.user, customers=customers)
    elif customers:
        match = request.resolver_match
        audit.api_read_tally_add(principal=request.user, rows=len(customers),
                                 endpoint=f"{request.method} /{match.route}" if match else request.path)
    return rendered


def _render_written_customer(customer: Customer) -> dict:
    """Render the result of a write, PII always masked.

    The caller sent the values, and core.idempotency stores this body in plain JSONB for replays.
    """
    return io.customer_output(customer, reveal=False)


def _parsed(serializer_class, data) -> dict:
    if serializer_class in QUERY_SERIALIZERS:
        # DRF reads "?updated_since=" as "not sent"; the schema says a value is a date-time, so refuse it.
        blank = sorted(name for name in serializer_class().fields if data.get(name, None) == "")
        if blank:
            raise exceptions.ValidationError({name: [_("This field may not be blank.")] for name in blank})
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- Customers ---------------------------------------------------------------------------------


class CustomerListCreateApi(APIView):
    permission_classes = [api_permissions.CustomerAccess]
    pagination_class = CustomerPagination

    @extend_schema(
        tags=CUSTOMERS_TAG, operation_id="customers_list", summary="List customers",
        description=f"Customers in id order, a page at a time (cursor pagination). {SCOPE_NOTE} {MASKING_NOTE} "
                    "Needs customers:read.",
        parameters=[io.CustomerListQueryInput],
        responses={200: io.CustomerOutput(many=True)},
        examples=[INVALID_EXAMPLE],
    )
    def get(self, request):
        query = _parsed(io.CustomerListQueryInput, request.query_params)
        customers = selectors.customer_api_list(
            principal=request.user,
            branch_code=query.get("branch"),
            status=query.get("status"),
            relationship_manager=query.get("relationship_manager"),
            updated_since=query.get("updated_since"),
            search=query.get("search"),
        )
        if query.get("attribute"):
            customers = selectors.customer_attribute_filter(
                customers, code=query["attribute"], value=query.get("attribute_value"),
                minimum=query.get("attribute_min"), maximum=query.get("attribute_max"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(customers, request, view=self)
        return paginator.get_paginated_response(_render_customers(request, page))

    @extend_schema(
        tags=CUSTOMERS_TAG, operation_id="customers_create", summary="Create a customer",
        description="Needs customers:write (staff: relationship manager, branch manager, administrator). The new "
                    "customer must be in the caller's scope (an RM assigns themselves, a branch manager or a "
                    "branch key their branch). A customer number already stored is a 409; to create-or-update "
                    f"use PUT /api/v1/customers/by-external-id/{{external_id}}/. {WRITE_MASKING_NOTE}",
        request=io.CustomerCreateInput,
        responses={201: io.CustomerOutput, 409: CONFLICT_RESPONSE},
        examples=[OpenApiExample("New customer", value=CUSTOMER_EXAMPLE, request_only=True), INVALID_EXAMPLE],
    )
    @idempotent
    def post(self, request):
        fields = _parsed(io.CustomerCreateInput, request.data)
        external_id = fields.pop("external_id")
        customer = services.customer_create(by=request.user, external_id=external_id, fields=fields)
        customer = selectors.customer_get_for_principal(principal=request.user, customer_id=customer.pk)
        return Response(_render_written_customer(customer), status=status.HTTP_201_CREATED)


class CustomerDetailApi(APIView):
    permission_classes = [api_permissions.CustomerAccess]

    @extend_schema(
        tags=CUSTOMERS_TAG, operation_id="customers_retrieve", summary="One customer",
        description=f"{SCOPE_NOTE} {MASKING_NOTE} Needs customers:read.",
        parameters=[CUSTOMER_ID_PARAMETER], responses={200: io.CustomerOutput}, examples=[NOT_FOUND_EXAMPLE],
    )
    def get(self, request, customer_id: str):
        customer = _customer_or_404(request, customer_id)
        return Response(_render_customers(request, [customer])[0])

    @extend_schema(
        tags=CUSTOMERS_TAG, operation_id="customers_partial_update", summary="Change a customer",
        description="Only the fields sent change. Needs customers:write (staff: relationship manager, branch "
                    "manager, administrator); the customer must stay in the caller's scope (else 403, nothing "
                    f"changes). {WRITE_MASKING_NOTE}",
        parameters=[CUSTOMER_ID_PARAMETER], request=io.CustomerUpdateInput,
        responses={200: io.CustomerOutput, 409: CONFLICT_RESPONSE},
        examples=[OpenApiExample("New phone", value={"phone": "13987654321"}, request_only=True),
                  INVALID_EXAMPLE, NOT_FOUND_EXAMPLE],
    )
    def patch(self, request, customer_id: str):
        customer = _customer_or_404(request, customer_id)
        fields = _parsed(io.CustomerUpdateInput, request.data)
        customer = services.customer_update(customer=customer, by=request.user, fields=fields)
        return Response(_render_written_customer(customer))


class CustomerUpsertByExternalIdApi(APIView):
    permission_classes = [api_permissions.CustomerAccess]

    @extend_schema(
        tags=CUSTOMERS_TAG, operation_id="customers_upsert_by_external_id",
        summary="Create or update a customer by customer number",
        description="Idempotent: the same call twice leaves one customer and changes nothing the second time. "
                    "New customer: 201 (name and branch required); existing: 200, and only the fields sent "
                    "change. A customer number that exists outside the caller's scope is a 404. Needs "
                    f"customers:write. {WRITE_MASKING_NOTE}",
        parameters=[EXTERNAL_ID_PARAMETER], request=io.CustomerUpsertInput,
        responses={200: io.CustomerOutput, 201: io.CustomerOutput, 409: CONFLICT_RESPONSE},
        examples=[
            OpenApiExample("Upsert", request_only=True,
                           value={key: value for key, value in CUSTOMER_EXAMPLE.items() if key != "external_id"}),
            INVALID_EXAMPLE, NOT_FOUND_EXAMPLE,
        ],
    )
    def put(self, request, external_id: str):
        external_id = _code_or_400(external_id, field="external_id")
        fields = _parsed(io.CustomerUpsertInput, request.data)
        try:
            customer, created = services.customer_upsert_by_external_id(
                by=request.user, external_id=external_id, fields=fields
            )
        except Customer.DoesNotExist:
            raise exceptions.NotFound() from None
        customer = selectors.customer_get_for_principal(principal=request.user, customer_id=customer.pk)
        return Response(_render_written_customer(customer),
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class CustomerLookupApi(APIView):
    permission_classes = [api_permissions.CustomerLookupAccess]

    @extend_schema(
        tags=CUSTOMERS_TAG, operation_id="customers_lookup", summary="Find customers by ID number or phone",
        description="Exact match through the blind index; the number travels in the body, never in a URL. "
                    "Every lookup is audited (the kind of number and the match count, never the number). A read "
                    "sent as POST: it takes no Idempotency-Key, so no response is ever stored. "
                    f"Needs customers:read. {SCOPE_NOTE} {MASKING_NOTE}",
        request=io.CustomerLookupInput, responses={200: io.CustomerLookupOutput},
        examples=[OpenApiExample("By phone", value={"kind": "phone", "value": "+86 138-1234-5678"}, request_only=True),
                  INVALID_EXAMPLE],
    )
    def post(self, request):
        query = _parsed(io.CustomerLookupInput, request.data)
        customers = services.customer_identifier_lookup(by=request.user, **{query["kind"]: query["value"]})
        return Response({"results": _render_customers(request, customers)})


# --- Holdings ----------------------------------------------------------------------------------


class HoldingListApi(APIView):
    permission_classes = [api_permissions.HoldingAccess]
    pagination_class = HoldingPagination

    @extend_schema(
        tags=CUSTOMERS_TAG, operation_id="customers_holdings_list", summary="A customer's holdings",
        description=f"Open holdings first, then newest first. Needs customers:read. {SCOPE_NOTE}",
        parameters=[CUSTOMER_ID_PARAMETER], responses={200: io.HoldingOutput(many=True)},
        examples=[NOT_FOUND_EXAMPLE],
    )
    def get(self, request, customer_id: str):
        customer = _customer_or_404(request, customer_id)
        paginator = self.pagination_class()
        holdings = paginator.paginate_queryset(selectors.holding_list_for(customer=customer), request, view=self)
        return paginator.get_paginated_response([io.holding_output(holding) for holding in holdings])


class HoldingUpsertApi(APIView):
    permission_classes = [api_permissions.HoldingAccess]

    @extend_schema(
        tags=CUSTOMERS_TAG, operation_id="customers_holdings_upsert",
        summary="Create or update a customer's holding of a product",
        description="Idempotent upsert keyed on (customer, product), or on external_ref when sent. 201 when "
                    "created, 200 otherwise. When the customer holds the product more than once, send "
                    "external_ref to pick one (else 409). An unknown product code is a 404. Needs "
                    "holdings:write (API keys only: holdings come from core banking).",
        parameters=[CUSTOMER_ID_PARAMETER, HOLDING_PRODUCT_PARAMETER], request=io.HoldingUpsertInput,
        responses={200: io.HoldingOutput, 201: io.HoldingOutput, 409: CONFLICT_RESPONSE},
        examples=[OpenApiExample("Deposit account", request_only=True, value={
            "balance": "50000.00", "opened_on": "2021-04-01", "closed_on": None, "external_ref": "ACC-6222-0001",
        }), INVALID_EXAMPLE, NOT_FOUND_EXAMPLE],
    )
    def put(self, request, customer_id: str, product_code: str):
        customer = _customer_or_404(request, customer_id)
        product_code = _code_or_400(product_code, field="product_code")
        fields = _parsed(io.HoldingUpsertInput, request.data)
        holding, created = services.holding_upsert(customer=customer, by=request.user, product_code=product_code,
                                                   **fields)
        holding = selectors.holding_list_for(customer=customer).get(pk=holding.pk)
        return Response(io.holding_output(holding), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


# --- Interactions ------------------------------------------------------------------------------


class InteractionListCreateApi(APIView):
    permission_classes = [api_permissions.InteractionAccess]
    pagination_class = InteractionPagination

    @extend_schema(
        tags=CUSTOMERS_TAG, operation_id="customers_interactions_list", summary="A customer's interactions",
        description=f"Most recently recorded first, a page at a time. Needs customers:read. {SCOPE_NOTE}",
        parameters=[CUSTOMER_ID_PARAMETER],
        responses={200: io.InteractionOutput(many=True)}, examples=[NOT_FOUND_EXAMPLE],
    )
    def get(self, request, customer_id: str):
        customer = _customer_or_404(request, customer_id)
        paginator = self.pagination_class()
        interactions = paginator.paginate_queryset(selectors.interaction_page_for(customer=customer), request,
                                                   view=self)
        return paginator.get_paginated_response([io.interaction_output(item) for item in interactions])

    @extend_schema(
        tags=CUSTOMERS_TAG, operation_id="customers_interactions_create", summary="Record an interaction",
        description="Needs interactions:write (staff: any role that serves customers). Recorded by an API key, "
                    "the interaction has no staff member and the audit log names the key. Send an "
                    "Idempotency-Key so a retry does not record it twice.",
        parameters=[CUSTOMER_ID_PARAMETER], request=io.InteractionCreateInput,
        responses={201: io.InteractionOutput},
        examples=[OpenApiExample("Call", request_only=True, value={
            "kind": "call", "occurred_at": "2026-11-27T10:30:00+08:00", "summary": "回访理财产品到期情况",
            "outcome": "interested", "next_step": "寄送产品说明书", "next_step_due_on": "2026-12-05",
        }), INVALID_EXAMPLE, NOT_FOUND_EXAMPLE],
    )
    @idempotent
    def post(self, request, customer_id: str):
        customer = _customer_or_404(request, customer_id)
        fields = _parsed(io.InteractionCreateInput, request.data)
        interaction = services.interaction_record_by(customer=customer, by=request.user, **fields)
        return Response(io.interaction_output(interaction), status=status.HTTP_201_CREATED)


# --- Products ----------------------------------------------------------------------------------


class ProductListApi(APIView):
    permission_classes = [api_permissions.ProductAccess]
    pagination_class = ProductPagination

    @extend_schema(
        tags=PRODUCTS_TAG, operation_id="products_list", summary="List products",
        description="The product catalogue in id order. Needs products:read (staff: any customer-facing role).",
        parameters=[io.ProductListQueryInput], responses={200: io.ProductOutput(many=True)},
        examples=[INVALID_EXAMPLE],
    )
    def get(self, request):
        query = _parsed(io.ProductListQueryInput, request.query_params)
        paginator = self.pagination_class()
        products = paginator.paginate_queryset(
            selectors.product_list(category=query.get("category"), is_active=query.get("is_active")), request,
            view=self)
        return paginator.get_paginated_response([io.product_output(product) for product in products])


class ProductDetailApi(APIView):
    permission_classes = [api_permissions.ProductAccess]

    @extend_schema(
        tags=PRODUCTS_TAG, operation_id="products_retrieve", summary="One product",
        description="Needs products:read.", parameters=[PRODUCT_CODE_PARAMETER],
        responses={200: io.ProductOutput}, examples=[NOT_FOUND_EXAMPLE],
    )
    def get(self, request, code: str):
        try:
            product = selectors.product_get(code=code)
        except Product.DoesNotExist:
            raise exceptions.NotFound() from None
        return Response(io.product_output(product))

    @extend_schema(
        tags=PRODUCTS_TAG, operation_id="products_upsert", summary="Create or update a product",
        description="Idempotent upsert by product code: 201 when created, 200 otherwise. Needs products:write "
                    "(staff: administrators).",
        parameters=[PRODUCT_CODE_PARAMETER], request=io.ProductUpsertInput,
        responses={200: io.ProductOutput, 201: io.ProductOutput, 409: CONFLICT_RESPONSE},
        examples=[OpenApiExample("Wealth product", request_only=True, value={
            "name": "稳健理财 90 天", "category": "wealth", "risk_level": "R2", "is_active": True,
        }), INVALID_EXAMPLE],
    )
    def put(self, request, code: str):
        code = _code_or_400(code, field="code")
        fields = _parsed(io.ProductUpsertInput, request.data)
        product, created = services.product_upsert(by=request.user, code=code, **fields)
        return Response(io.product_output(product), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


# --- Transactions --------------------------------------------------------------------------------


BULK_REJECTED_EXAMPLE = OpenApiExample(
    "Invalid rows (nothing written)", status_codes=["422"], response_only=True,
    value={"error": {"code": "invalid", "message": "2 of 10000 rows are invalid; nothing was written.", "fields": {
        "rows": [
            {"index": 17, "field": "amount",
             "reason": 'Must be a positive decimal string with at most 2 decimal places, e.g. "120.50".'},
            {"index": 4711, "field": "customer_external_id",
             "reason": "No customer with this customer number (in your scope)."},
        ]}}},
)


class TransactionBulkIngestApi(APIView):
    permission_classes = [api_permissions.TransactionIngestAccess]

    @extend_schema(
        tags=TRANSACTIONS_TAG, operation_id="transactions_bulk_ingest", summary="Ingest a batch of transactions",
        description=(
            f"Up to {services.TRANSACTION_BULK_MAX_ROWS:,} rows a request (more: 413). The batch is validated "
            "whole: if any row is invalid nothing is written and the 422 lists every problem as "
            '{"index", "field", "reason"} under error.fields.rows (index 0-based). Otherwise the new rows are '
            "inserted in one statement; a row whose external_ref is stored already is skipped and counted in "
            "already_present (its stored values are not changed), so a retried batch never duplicates a row. "
            "A repeated external_ref inside one batch is an invalid row. A rejected batch does not spend its "
            "Idempotency-Key: send the corrected batch with the same key. Customers are named by customer "
            "number, within the key's scope. Needs transactions:write (API keys only)."
        ),
        request=io.TransactionBulkInput,
        responses={
            200: io.TransactionBulkOutput,
            422: OpenApiResponse(ApiErrorOutput, description="Invalid rows, nothing written; or an "
                                 "Idempotency-Key reused with another body."),
        },
        examples=[
            OpenApiExample("Two transactions", request_only=True, value={"rows": [
                {"external_ref": "TX202611270000001", "customer_external_id": "C000012345",
                 "occurred_at": "2026-11-27T09:15:00+08:00", "amount": "1200.00", "direction": "in",
                 "channel": "mobile", "type": "deposit"},
                {"external_ref": "TX202611270000002", "customer_external_id": "C000012345",
                 "occurred_at": "2026-11-27T09:20:00+08:00", "amount": "85.50", "direction": "out",
                 "channel": "pos", "type": "purchase"},
            ]}),
            OpenApiExample("Result", response_only=True, status_codes=["200"],
                           value={"received": 2, "inserted": 1, "already_present": 1}),
            BULK_REJECTED_EXAMPLE, INVALID_EXAMPLE,
        ],
    )
    @idempotent
    def post(self, request):
        data = request.data
        if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
            raise exceptions.ValidationError({"rows": [_("Send an object with a list of rows: {\"rows\": [...]}.")]})
        unknown = sorted(str(name) for name in data if name != "rows")
        if unknown:
            raise exceptions.ValidationError({name: [_("Unknown field.")] for name in unknown})
        if len(data["rows"]) > services.TRANSACTION_BULK_MAX_ROWS:
            message = _("Send at most %(max)d rows per request; split the batch.")
            raise PayloadTooLarge(message % {"max": services.TRANSACTION_BULK_MAX_ROWS})
        result = services.transaction_bulk_ingest(by=request.user, rows=data["rows"])
        return Response({"received": result.received, "inserted": result.inserted,
                         "already_present": result.already_present})
