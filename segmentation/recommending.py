"""The recommendation engine (MANUAL 2.3, 4.3): item-to-item collaborative filtering over holdings.

Model: X is the customers x products matrix of open holdings (1 = holds it; scipy CSR).
The item similarity S is the cosine similarity of X's columns (scikit-learn), diagonal zeroed:
two products are similar when the same customers hold both. A customer's score for product j
is sum over held products k of S[k, j] (X @ S), plus a 0.001 x popularity tie-break, so a
customer holding nothing gets the most popular eligible products ("popular" reason).

Filters, each making a product impossible (score -inf), never merely unlikely:
- suitability: the product's risk level (R1..R5) must not exceed the customer's risk tolerance;
  a customer without a recorded tolerance is offered R1 products only;
- held: no product the customer holds now;
- strategy: only the categories the tier's ServiceStrategy makes eligible; only products on sale.
The reason of a "similar" recommendation names the held product most similar to it.

Memory: holdings come out of PostgreSQL with COPY into pandas (two int64 columns), customers are
scored in blocks of BLOCK_SIZE rows; 1 M customers with 4.8 M holdings stay well under 1 GiB.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.metrics.pairwise import cosine_similarity

from customers.models import CustomerStatus, RiskLevel
from segmentation.models import FeedbackOutcome, RecommendationReason, ServiceStrategy, Tier

BLOCK_SIZE = 100_000
POPULARITY_WEIGHT = 1e-3
RISK_RANK = {level.value: rank for rank, level in enumerate(RiskLevel, start=1)}
TIER_INDEX = {tier.value: index for index, tier in enumerate(Tier)}


@dataclass(frozen=True)
class Products:
    ids: np.ndarray  # product ids, column order of X
    risk_rank: np.ndarray
    categories: list[str]
    on_sale: np.ndarray

    def column_of(self, product_ids: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.ids, product_ids)


@dataclass(frozen=True)
class RunStats:
    customers: int
    recommendations: int
    holdings: int
    seconds_by_phase: dict = field(default_factory=dict)


def copy_frame(cursor, sql: str, params: dict | list | None, names: list[str], dtypes: dict) -> pd.DataFrame:
    """Run a SELECT through COPY ... TO STDOUT and parse it with pandas (no Python tuple per row)."""
    query = cursor.mogrify(sql, params).decode() if params else sql
    buffer = io.BytesIO()
    cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", buffer)
    buffer.seek(0)
    if not buffer.getbuffer().nbytes:
        return pd.DataFrame({name: pd.Series(dtype=dtypes.get(name, object)) for name in names})
    return pd.read_csv(buffer, names=names, dtype=dtypes, keep_default_na=False, na_filter=False)


def load_products(cursor) -> Products:
    cursor.execute("SELECT id, risk_level, category, is_active FROM customers_product ORDER BY id")
    rows = cursor.fetchall()
    return Products(
        ids=np.array([row[0] for row in rows], dtype=np.int64),
        risk_rank=np.array([RISK_RANK.get(row[1], 99) for row in rows], dtype=np.int8),
        categories=[row[2] for row in rows],
        on_sale=np.array([bool(row[3]) for row in rows], dtype=bool),
    )


def load_holdings(cursor, *, as_of) -> pd.DataFrame:
    return copy_frame(
        cursor,
        "SELECT customer_id, product_id FROM customers_holding "
        "WHERE opened_on <= %(as_of)s AND (closed_on IS NULL OR closed_on > %(as_of)s)",
        {"as_of": as_of}, ["customer_id", "product_id"], {"customer_id": np.int64, "product_id": np.int64},
    )


# The latest feedback on each (customer, product); a decline recorded since the cut-off keeps the
# product out of the customer's recommendations (SegmentationPolicy.declined_cooloff_days).
DECLINED_SQL = (
    "SELECT customer_id, product_id FROM ("
    " SELECT DISTINCT ON (customer_id, product_id) customer_id, product_id, outcome, recorded_at"
    " FROM segmentation_recommendationfeedback WHERE recorded_at >= %(since)s {scope}"
    " ORDER BY customer_id, product_id, recorded_at DESC, id DESC) latest"
    " WHERE outcome = %(declined)s"
)


def load_declined(cursor, *, since, customer_ids: list[int] | None) -> pd.DataFrame:
    scope = "AND customer_id = ANY(%(customer_ids)s)" if customer_ids is not None else ""
    return copy_frame(
        cursor, DECLINED_SQL.format(scope=scope),
        {"since": since, "declined": FeedbackOutcome.DECLINED.value, "customer_ids": customer_ids},
        ["customer_id", "product_id"], {"customer_id": np.int64, "product_id": np.int64},
    )


def exclude_declined(*, eligible: np.ndarray, customer_ids: np.ndarray, products: Products,
                     declined: pd.DataFrame) -> None:
    """Mark the block's declined (customer, product) pairs ineligible, in place."""
    if declined.empty:
        return
    in_block = declined[declined["customer_id"].isin(customer_ids)]
    if in_block.empty:
        return
    rows = np.searchsorted(customer_ids, in_block["customer_id"].to_numpy())
    columns = np.searchsorted(products.ids, in_block["product_id"].to_numpy())
    known = (columns < len(products.ids)) & (products.ids[np.minimum(columns, len(products.ids) - 1)]
                                             == in_block["product_id"].to_numpy())
    eligible[rows[known], columns[known]] = False


CUSTOMERS_SQL = (
    "SELECT c.id, c.risk_tolerance, coalesce(s.tier, %(general)s) FROM customers_customer c "
    "LEFT JOIN segmentation_customersegment s ON s.customer_id = c.id "
    "WHERE c.status = %(active)s {scope} ORDER BY c.id"
)


def load_customers(cursor, *, customer_ids: list[int] | None) -> pd.DataFrame:
    scope = "AND c.id = ANY(%(customer_ids)s)" if customer_ids is not None else ""
    sql = CUSTOMERS_SQL.format(scope=scope)  # a constant clause; values are parameters
    return copy_frame(
        cursor, sql,
        {"active": CustomerStatus.ACTIVE.value, "customer_ids": customer_ids, "general": Tier.GENERAL.value},
        ["customer_id", "risk_tolerance", "tier"], {"customer_id": np.int64, "risk_tolerance": str, "tier": str},
    )


def holding_matrix(holdings: pd.DataFrame, products: Products) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Return (sorted customer ids, binary CSR matrix customers x products)."""
    customer_ids, rows = np.unique(holdings["customer_id"].to_numpy(), return_inverse=True)
    columns = products.column_of(holdings["product_id"].to_numpy())
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(len(customer_ids), len(products.ids))
    )
    matrix.data[:] = 1.0  # several holdings of one product count once
    return customer_ids, matrix


def item_similarity(matrix: sparse.csr_matrix) -> np.ndarray:
    """Cosine similarity of the product columns, zero on the diagonal (a product is not its own reason)."""
    if matrix.shape[0] == 0:
        return np.zeros((matrix.shape[1], matrix.shape[1]), dtype=np.float32)
    similarity = cosine_similarity(matrix.T.tocsr(), dense_output=True).astype(np.float32)
    np.fill_diagonal(similarity, 0.0)
    return similarity


def popularity(matrix: sparse.csr_matrix) -> np.ndarray:
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    return (counts / counts.max()).astype(np.float32) if counts.size and counts.max() > 0 else counts


def rows_for(customer_ids: np.ndarray, matrix_customer_ids: np.ndarray, matrix: sparse.csr_matrix
             ) -> sparse.csr_matrix:
    """The matrix rows of these customers (empty rows for customers holding nothing)."""
    if len(matrix_customer_ids) == 0:
        return sparse.csr_matrix((len(customer_ids), matrix.shape[1]), dtype=np.float32)
    positions_clipped = np.minimum(np.searchsorted(matrix_customer_ids, customer_ids), len(matrix_customer_ids) - 1)
    found = matrix_customer_ids[positions_clipped] == customer_ids
    selector = sparse.csr_matrix(
        (np.ones(int(np.count_nonzero(found)), dtype=np.float32),
         (np.flatnonzero(found), positions_clipped[found])),
        shape=(len(customer_ids), matrix.shape[0]),
    )
    return (selector @ matrix).tocsr()


def eligibility(*, tolerance_rank: np.ndarray, tier_index: np.ndarray, products: Products,
                tier_categories: np.ndarray | None) -> np.ndarray:
    """n x P booleans: suitable (risk level <= tolerance), on sale, and in the tier's strategy."""
    eligible = products.risk_rank[None, :] <= tolerance_rank[:, None]
    eligible &= products.on_sale[None, :]
    if tier_categories is not None:
        eligible &= tier_categories[tier_index]
    return eligible


def tier_category_mask(products: Products) -> np.ndarray:
    """3 x P booleans from the service strategies; a tier without a strategy allows every category."""
    allowed = np.ones((len(TIER_INDEX), len(products.ids)), dtype=bool)
    for strategy in ServiceStrategy.objects.all():
        if strategy.tier in TIER_INDEX:
            categories = set(strategy.eligible_categories)
            allowed[TIER_INDEX[strategy.tier]] = [category in categories for category in products.categories]
    return allowed


def recommend_block(*, held: sparse.csr_matrix, similarity: np.ndarray, product_popularity: np.ndarray,
                    eligible: np.ndarray, top_n: int):
    """Return (columns, scores, is_similar, because_columns, valid), each n x top_n."""
    cf = np.asarray(held @ similarity, dtype=np.float32)
    scores = cf + POPULARITY_WEIGHT * product_popularity[None, :]
    held_dense = held.toarray() > 0
    scores[~eligible | held_dense] = -np.inf
    top_n = min(top_n, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :top_n]
    top_scores = np.take_along_axis(scores, order, axis=1)
    valid = np.isfinite(top_scores)
    is_similar = np.take_along_axis(cf, order, axis=1) > 0
    because = np.zeros_like(order)
    for position in range(top_n):
        towards = similarity[:, order[:, position]].T  # [i, k] = S[k, recommended product of i]
        because[:, position] = np.where(held_dense, towards, -1.0).argmax(axis=1)
    return order, top_scores, is_similar, because, valid


def tolerance_ranks(tolerances: pd.Series) -> np.ndarray:
    return tolerances.map(RISK_RANK).fillna(1).to_numpy(dtype=np.int8)


def tier_indexes(tiers: pd.Series) -> np.ndarray:
    return tiers.map(TIER_INDEX).fillna(TIER_INDEX[Tier.GENERAL.value]).to_numpy(dtype=np.int64)


def recommend_and_write(*, cursor, run_id: int, as_of, customer_ids: list[int] | None, top_n: int,
                        declined_since=None) -> RunStats:
    """Score the customers in blocks and replace their recommendations (DELETE, then COPY per block).

    Products a customer declined at or after ``declined_since`` (a datetime) are left out.
    """
    phases: dict[str, float] = {}
    started = time.monotonic()
    products = load_products(cursor)
    if not len(products.ids):
        return RunStats(customers=0, recommendations=0, holdings=0)
    holdings = load_holdings(cursor, as_of=as_of)
    matrix_customer_ids, matrix = holding_matrix(holdings, products)
    holdings_count = len(holdings)
    del holdings
    customers = load_customers(cursor, customer_ids=customer_ids)
    declined = (load_declined(cursor, since=declined_since, customer_ids=customer_ids)
                if declined_since is not None else pd.DataFrame({"customer_id": [], "product_id": []}))
    phases["load"] = time.monotonic() - started

    started = time.monotonic()
    similarity = item_similarity(matrix)
    product_popularity = popularity(matrix)
    tier_categories = tier_category_mask(products)
    phases["similarity"] = time.monotonic() - started

    started = time.monotonic()
    if customer_ids is None:
        cursor.execute("DELETE FROM segmentation_recommendation")
    else:
        cursor.execute("DELETE FROM segmentation_recommendation WHERE customer_id = ANY(%s)", [list(customer_ids)])
    phases["delete"] = time.monotonic() - started

    written = 0
    phases["score"] = phases["copy"] = 0.0
    for start in range(0, len(customers), BLOCK_SIZE):
        started = time.monotonic()
        block = customers.iloc[start:start + BLOCK_SIZE]
        ids = block["customer_id"].to_numpy()
        eligible = eligibility(tolerance_rank=tolerance_ranks(block["risk_tolerance"]),
                               tier_index=tier_indexes(block["tier"]), products=products,
                               tier_categories=tier_categories)
        exclude_declined(eligible=eligible, customer_ids=ids, products=products, declined=declined)
        order, scores, is_similar, because, valid = recommend_block(
            held=rows_for(ids, matrix_customer_ids, matrix), similarity=similarity,
            product_popularity=product_popularity, eligible=eligible, top_n=top_n,
        )
        phases["score"] += time.monotonic() - started
        started = time.monotonic()
        written += _copy_recommendations(cursor=cursor, run_id=run_id, customer_ids=ids, products=products,
                                         order=order, scores=scores, is_similar=is_similar, because=because,
                                         valid=valid)
        phases["copy"] += time.monotonic() - started
    if customer_ids is None:
        cursor.execute("ANALYZE segmentation_recommendation")  # fresh statistics for the 360 page's plan
    return RunStats(customers=len(customers), recommendations=written, holdings=holdings_count,
                    seconds_by_phase={name: round(seconds, 1) for name, seconds in phases.items()})


def _copy_recommendations(*, cursor, run_id, customer_ids, products, order, scores, is_similar, because,
                          valid) -> int:
    rows, positions = np.nonzero(valid)
    if not len(rows):
        return 0
    similar = is_similar[rows, positions]
    frame = pd.DataFrame({
        "customer_id": customer_ids[rows],
        "product_id": products.ids[order[rows, positions]],
        "rank": positions + 1,
        "score": np.round(scores[rows, positions].astype(np.float64), 6),
        "reason": np.where(similar, RecommendationReason.SIMILAR_HOLDERS.value, RecommendationReason.POPULAR.value),
        "because_product_id": pd.array(np.where(similar, products.ids[because[rows, positions]], 0), dtype="Int64"),
        "run_id": run_id,
    })
    frame.loc[~similar, "because_product_id"] = pd.NA
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    cursor.copy_expert(
        "COPY segmentation_recommendation (customer_id, product_id, rank, score, reason, because_product_id, run_id) "
        "FROM STDIN WITH (FORMAT csv)",
        buffer,
    )
    return len(frame)


# --- Offline evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    customers: int
    hits_cf: int
    hits_popular: int
    top_n: int

    @property
    def hit_rate_cf(self) -> float:
        return self.hits_cf / self.customers if self.customers else 0.0

    @property
    def hit_rate_popular(self) -> float:
        return self.hits_popular / self.customers if self.customers else 0.0


def evaluate(*, cursor, as_of, sample: int, seed: int, top_n: int = 3) -> Evaluation:
    """Hit rate@top_n on one held-out open holding per sampled customer (>= 2 holdings), against popularity.

    Both methods see the same training matrix (the held-out holdings removed) and the same filters
    (suitability, on sale, not held); the tier strategy filter is left out so that neither is
    credited or blamed for a strategy choice.
    """
    rng = np.random.default_rng(seed)
    products = load_products(cursor)
    holdings = load_holdings(cursor, as_of=as_of)
    matrix_customer_ids, matrix = holding_matrix(holdings, products)
    del holdings
    counts = np.diff(matrix.indptr)
    candidates = np.flatnonzero(counts >= 2)
    chosen = np.sort(rng.choice(candidates, size=min(sample, len(candidates)), replace=False))
    offsets = matrix.indptr[chosen] + rng.integers(0, counts[chosen])
    held_out = matrix.indices[offsets]
    train = matrix.copy()
    train.data[offsets] = 0.0
    train.eliminate_zeros()
    similarity = item_similarity(train)
    product_popularity = popularity(train)

    customers = load_customers(cursor, customer_ids=None).set_index("customer_id")
    chosen_ids = matrix_customer_ids[chosen]
    tolerances = customers["risk_tolerance"].reindex(chosen_ids).fillna("")
    hits_cf = hits_popular = 0
    for start in range(0, len(chosen), BLOCK_SIZE):
        rows = chosen[start:start + BLOCK_SIZE]
        held = train[rows]
        eligible = eligibility(tolerance_rank=tolerance_ranks(tolerances.iloc[start:start + BLOCK_SIZE]),
                               tier_index=np.zeros(len(rows), dtype=np.int64), products=products,
                               tier_categories=None)
        truth = held_out[start:start + BLOCK_SIZE][:, None]
        order, _scores, _similar, _because, valid = recommend_block(
            held=held, similarity=similarity, product_popularity=product_popularity, eligible=eligible,
            top_n=top_n,
        )
        hits_cf += int(np.count_nonzero(((order == truth) & valid).any(axis=1)))
        order, _scores, _similar, _because, valid = recommend_block(
            held=held, similarity=np.zeros_like(similarity), product_popularity=product_popularity,
            eligible=eligible, top_n=top_n,
        )
        hits_popular += int(np.count_nonzero(((order == truth) & valid).any(axis=1)))
    return Evaluation(customers=len(chosen), hits_cf=hits_cf, hits_popular=hits_popular, top_n=top_n)
