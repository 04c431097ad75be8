"""Deterministic demo customers and their activity, rendered as CSV for COPY. No database access.

The customers are cut into chunks of CHUNK_CUSTOMERS. Chunk k draws from its own generators,
seeded with the text "<seed>:<k>:...", so a chunk's rows depend on the seed, the chunk number
and the plan only: never on the order in which chunks are made or on how many processes make
them. Two stages:

1. ``customer_profiles``: the plaintext customers with their holdings and their deliberate
   data-quality defects (tests regenerate these to check the database against them);
2. ``chunk_render``: encrypts the PII (core.crypto.encrypt), computes the blind indexes, adds
   transactions and interactions, and returns one CSV payload per table.

Money is handled in integer cents. Timestamps carry +08 (Asia/Shanghai, no daylight saving).
"""

from __future__ import annotations

import calendar
import io
import math
import random
from bisect import bisect
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate

from core import crypto
from core.identifiers import RESIDENT_ID_CHECK_CHARACTERS, resident_id_check_character
from crm_project.demo import catalogue
from crm_project.demo.staff import RelationshipManagerSlot
from customers.models import (
    Channel,
    ConsentState,
    CustomerStatus,
    DataQualityRule,
    Gender,
    InteractionKind,
    InteractionOutcome,
    ProductCategory,
    RiskLevel,
    TransactionDirection,
    TransactionType,
)

CHUNK_CUSTOMERS = 1000
# Customers an RM looks after at most; the benchmark wants one RM with about this many.
CUSTOMERS_PER_RM = 5000
MIN_RELATIONSHIP_MANAGERS = 8

HIGH_NET_WORTH, MIDDLE, ORDINARY = "high_net_worth", "middle", "ordinary"
SEGMENTS = (HIGH_NET_WORTH, MIDDLE, ORDINARY)
# MANUAL 2.1: about 12 % high-net-worth, 45 % middle, 43 % ordinary.
SEGMENT_CUM_SHARES = (0.12, 0.57)

# Each kind of deliberate defect hits about this share of customers (the two ID defects
# exclude each other so each stays detectable on its own).
DEFECT_RATE = 0.02
MISSING_RULES = (DataQualityRule.MISSING_BASIC, DataQualityRule.MISSING_FINANCIAL,
                 DataQualityRule.MISSING_BEHAVIOUR, DataQualityRule.MISSING_RISK)
NEW_CUSTOMER_RATE = 0.06  # became a customer within the last year
DORMANT_RATE_ORDINARY = 0.08  # no transactions in the last year (churned)
CLOSED_SHARE_OF_DORMANT = 0.3
STALE_AFTER_DAYS = 365  # DataQualityPolicy v1; fresh data is updated within 330 days

TZ_SUFFIX = "+08"
PIPL_EFFECTIVE = date(2021, 11, 1)
EARLIEST_CUSTOMER_SINCE = date(1998, 1, 1)

# Seconds of the day as "HH:MM:SS", 08:00:00-21:59:59: formatting a time per row is the
# single biggest cost of a transaction row otherwise.
DAY_START_SECONDS = 8 * 3600
CLOCK = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(DAY_START_SECONDS, 22 * 3600)]
OFFICE_HOURS = (3600, 11 * 3600)  # 09:00-18:59 as offsets into CLOCK


@dataclass(frozen=True)
class SegmentProfile:
    share_male: float
    age_range: tuple[int, int]
    # log-normal median and sigma, clamped to [min, max], in yuan
    assets: tuple[float, float, float, float]
    income: tuple[float, float, float, float]
    # yearly transaction turnover (sum of amounts, in and out), yuan
    turnover: tuple[float, float, float, float]
    txn_weight: float  # relative number of transactions
    email_rate: float
    ratings: dict[str, int]
    risk_tolerances: dict[str, int]
    channels: dict[str, int]
    # product code -> probability of holding it (asset products), with a weight for the split
    asset_products: dict[str, tuple[float, float]]
    current_account_weight: float
    # product code -> probability, balance range in yuan (liabilities)
    liability_products: dict[str, tuple[float, int, int]]
    interaction_kinds: dict[str, int]


SEGMENT_PROFILES = {
    HIGH_NET_WORTH: SegmentProfile(
        share_male=0.6, age_range=(32, 72),
        assets=(12_000_000, 0.7, 6_000_000, 200_000_000), income=(1_500_000, 0.6, 600_000, 30_000_000),
        turnover=(3_000_000, 0.6, 300_000, 100_000_000), txn_weight=2.0, email_rate=0.85,
        ratings={"AAA": 35, "AA": 40, "A": 20, "BBB": 5},
        risk_tolerances={"R3": 20, "R4": 40, "R5": 40},
        channels={Channel.BRANCH: 35, Channel.PHONE: 25, Channel.MOBILE: 35, Channel.ONLINE: 5},
        asset_products={"DEP-LCD": (0.7, 1.5), "DEP-NOTICE": (0.3, 0.8), "DEP-FIX3Y": (0.4, 1.0),
                        "WM-FIX1Y": (0.6, 1.5), "WM-MIX": (0.55, 1.2), "WM-GOLD": (0.2, 0.4),
                        "WM-FUND": (0.4, 0.8), "WM-EQ": (0.35, 0.8), "WM-PE": (0.3, 1.5),
                        "IN-WL": (0.4, 0.8), "IN-ANNUITY": (0.3, 0.6)},
        current_account_weight=0.3,
        liability_products={"LN-MORT": (0.25, 1_000_000, 6_000_000), "LN-BIZ": (0.2, 500_000, 5_000_000),
                            "CD-PLAT": (0.85, 0, 200_000)},
        interaction_kinds={InteractionKind.VISIT: 35, InteractionKind.CALL: 30, InteractionKind.ONLINE: 20,
                           InteractionKind.EVENT: 15},
    ),
    MIDDLE: SegmentProfile(
        share_male=0.5, age_range=(25, 62),
        assets=(1_200_000, 0.8, 200_000, 6_000_000), income=(300_000, 0.5, 100_000, 1_500_000),
        turnover=(250_000, 0.7, 60_000, 3_000_000), txn_weight=1.1, email_rate=0.7,
        ratings={"AAA": 10, "AA": 30, "A": 35, "BBB": 18, "BB": 5, "B": 2},
        risk_tolerances={"R2": 25, "R3": 45, "R4": 25, "R5": 5},
        channels={Channel.MOBILE: 55, Channel.ONLINE: 15, Channel.BRANCH: 20, Channel.PHONE: 10},
        asset_products={"DEP-FIX1Y": (0.45, 1.0), "DEP-FIX3Y": (0.2, 1.0), "DEP-LCD": (0.25, 1.5),
                        "WM-FIX90": (0.45, 1.0), "WM-FIX1Y": (0.35, 1.0), "WM-MIX": (0.3, 0.8),
                        "WM-GOLD": (0.08, 0.3), "WM-FUND": (0.2, 0.5), "IN-ANNUITY": (0.15, 0.5),
                        "IN-CI": (0.2, 0.2), "IN-WL": (0.1, 0.5)},
        current_account_weight=1.0,
        liability_products={"LN-MORT": (0.35, 300_000, 3_000_000), "LN-CONS": (0.1, 20_000, 300_000),
                            "CD-CREDIT": (0.5, 0, 60_000), "CD-PLAT": (0.1, 0, 100_000)},
        interaction_kinds={InteractionKind.VISIT: 20, InteractionKind.CALL: 40, InteractionKind.ONLINE: 35,
                           InteractionKind.EVENT: 5},
    ),
    ORDINARY: SegmentProfile(
        share_male=0.5, age_range=(20, 85),
        assets=(40_000, 1.1, 100, 200_000), income=(70_000, 0.5, 12_000, 200_000),
        turnover=(30_000, 0.8, 2_000, 600_000), txn_weight=0.6, email_rate=0.4,
        ratings={"AA": 10, "A": 25, "BBB": 35, "BB": 18, "B": 9, "C": 3},
        risk_tolerances={"R1": 35, "R2": 40, "R3": 20, "R4": 5},
        channels={Channel.MOBILE: 60, Channel.BRANCH: 20, Channel.ATM: 10, Channel.ONLINE: 10},
        asset_products={"DEP-FIX1Y": (0.3, 1.0), "WM-FIX90": (0.15, 0.6), "IN-CI": (0.05, 0.1)},
        current_account_weight=3.0,
        liability_products={"LN-MORT": (0.1, 200_000, 1_200_000), "LN-CONS": (0.08, 10_000, 200_000),
                            "CD-CREDIT": (0.3, 0, 30_000)},
        interaction_kinds={InteractionKind.VISIT: 15, InteractionKind.CALL: 45, InteractionKind.ONLINE: 40},
    ),
}

# Transactions: (type, direction, weight per segment (HNW, middle, ordinary), amount factor,
# rounded to hundreds) and the channels each type goes through.
TRANSACTION_KINDS = [
    (TransactionType.DEPOSIT, TransactionDirection.IN, (10, 12, 15), 1.0, True),
    (TransactionType.WITHDRAWAL, TransactionDirection.OUT, (3, 6, 10), 0.5, True),
    (TransactionType.TRANSFER, TransactionDirection.IN, (20, 15, 12), 1.5, True),
    (TransactionType.TRANSFER, TransactionDirection.OUT, (22, 18, 15), 1.5, True),
    (TransactionType.PAYMENT, TransactionDirection.OUT, (15, 30, 40), 0.3, False),
    (TransactionType.PURCHASE, TransactionDirection.OUT, (15, 8, 3), 3.0, True),
    (TransactionType.REDEMPTION, TransactionDirection.IN, (12, 6, 2), 3.0, False),
    (TransactionType.REPAYMENT, TransactionDirection.OUT, (3, 5, 3), 0.8, False),
]
TRANSACTION_CHANNELS = {
    TransactionType.DEPOSIT: {Channel.BRANCH: 40, Channel.ATM: 40, Channel.MOBILE: 20},
    TransactionType.WITHDRAWAL: {Channel.ATM: 70, Channel.BRANCH: 30},
    TransactionType.TRANSFER: {Channel.MOBILE: 60, Channel.ONLINE: 25, Channel.BRANCH: 15},
    TransactionType.PAYMENT: {Channel.POS: 50, Channel.MOBILE: 45, Channel.ONLINE: 5},
    TransactionType.PURCHASE: {Channel.MOBILE: 50, Channel.ONLINE: 20, Channel.BRANCH: 25, Channel.PHONE: 5},
    TransactionType.REDEMPTION: {Channel.MOBILE: 55, Channel.ONLINE: 25, Channel.BRANCH: 20},
    TransactionType.REPAYMENT: {Channel.MOBILE: 50, Channel.ONLINE: 30, Channel.BRANCH: 20},
}
OUTCOMES = {InteractionOutcome.INFORMED: 35, InteractionOutcome.INTERESTED: 20,
            InteractionOutcome.PRODUCT_SOLD: 12, InteractionOutcome.NOT_INTERESTED: 15,
            InteractionOutcome.UNREACHABLE: 10, InteractionOutcome.ISSUE_RAISED: 8}
OUTCOMES_WITH_NEXT_STEP = {InteractionOutcome.INTERESTED, InteractionOutcome.ISSUE_RAISED}
# Service interactions a year: HNW customers mostly 5-12 (the VIP rule wants >= 5).
HNW_INTERACTIONS_SHARE_FREQUENT = 0.9
INTERACTIONS_PER_YEAR = {MIDDLE: 2.5, ORDINARY: 0.6}

ASSET_CATEGORIES = {ProductCategory.DEPOSIT, ProductCategory.WEALTH, ProductCategory.INSURANCE}
RISK_ORDER = {level: rank for rank, level in enumerate(RiskLevel.values)}


def _transaction_mix(segment_position: int) -> tuple[list[tuple[str, float, bool]], list[float]]:
    """Return (direction,channel,type CSV tail, amount factor, round) choices and cumulative weights.

    The amount factors are scaled so that their weighted mean is 1: the customer's turnover
    then comes out as planned whatever the mix.
    """
    entries, weights = [], []
    for txn_type, direction, type_weights, factor, rounded in TRANSACTION_KINDS:
        channels = TRANSACTION_CHANNELS[txn_type]
        channel_total = sum(channels.values())
        for channel, channel_weight in channels.items():
            entries.append((f"{direction},{channel},{txn_type}", factor, rounded))
            weights.append(type_weights[segment_position] * channel_weight / channel_total)
    total_weight = sum(weights)
    mean_factor = sum(weight * factor for weight, (_tail, factor, _rounded)
                      in zip(weights, entries, strict=True)) / total_weight
    entries = [(tail, factor / mean_factor, rounded) for tail, factor, rounded in entries]
    return entries, list(accumulate(weights))


TRANSACTION_MIX = {segment: _transaction_mix(position) for position, segment in enumerate(SEGMENTS)}
INTERACTION_KIND_MIX = {
    segment: (list(profile.interaction_kinds), list(accumulate(profile.interaction_kinds.values())))
    for segment, profile in SEGMENT_PROFILES.items()
}
OUTCOME_NAMES, OUTCOME_CUM_WEIGHTS = list(OUTCOMES), list(accumulate(OUTCOMES.values()))
FAMILY_CUM_WEIGHTS = list(accumulate(weight for _name, _pinyin, weight in catalogue.FAMILY_NAMES))
EMAIL_DOMAIN_NAMES = [domain for domain, _weight in catalogue.EMAIL_DOMAINS]
EMAIL_DOMAIN_CUM = list(accumulate(weight for _domain, weight in catalogue.EMAIL_DOMAINS))
RECOMMENDABLE = {
    HIGH_NET_WORTH: ["DEP-LCD", "WM-FIX1Y", "WM-MIX", "WM-PE", "IN-WL", "WM-EQ"],
    MIDDLE: ["DEP-LCD", "WM-FIX90", "WM-FIX1Y", "WM-MIX", "IN-ANNUITY", "IN-CI"],
    ORDINARY: ["DEP-FIX1Y", "WM-FIX90", "CD-CREDIT", "IN-CI"],
}


def id_check_char(body: str) -> str:
    """Return the GB 11643-1999 check character of the first 17 digits of a resident ID."""
    return resident_id_check_character(body)


def external_id_for(*, seed: int, index: int) -> str:
    """Customer number of the index-th demo customer of a seed (unique across seeds)."""
    return f"C{seed:04d}{index + 1:08d}"


def relationship_managers_needed(customers: int) -> int:
    """RMs to create so that none looks after more than about CUSTOMERS_PER_RM customers."""
    return max(MIN_RELATIONSHIP_MANAGERS, math.ceil(customers / CUSTOMERS_PER_RM))


def add_months(day: date, months: int) -> date:
    year, month_index = divmod(day.year * 12 + day.month - 1 + months, 12)
    month = month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class SeedPlan:
    """Everything a chunk needs; the same plan and chunk number always give the same rows."""

    seed: int
    customers: int
    months: int
    transactions_per_month: float
    as_of: date
    loaded_at: str  # created_at / updated_at of the customer rows
    first_customer_id: int
    relationship_managers: tuple[RelationshipManagerSlot, ...]
    product_ids: tuple[tuple[str, int], ...]

    @property
    def chunks(self) -> int:
        return math.ceil(self.customers / CHUNK_CUSTOMERS)

    @property
    def window_start(self) -> date:
        """First day of the transaction window: the window is `months` months ending on as_of."""
        return add_months(self.as_of, -self.months) + timedelta(days=1)

    def chunk_range(self, chunk_no: int) -> range:
        return range(chunk_no * CHUNK_CUSTOMERS, min(self.customers, (chunk_no + 1) * CHUNK_CUSTOMERS))


@dataclass(slots=True)
class HoldingPlan:
    product_code: str
    balance_cents: int
    opened_on: date
    closed_on: date | None = None


@dataclass(slots=True)
class CustomerProfile:
    """One generated customer in plaintext, with the defects planted in it."""

    index: int
    external_id: str
    segment: str
    name: str
    gender: str
    birth_date: date
    occupation: str
    id_number: str
    phone: str
    email: str | None
    address: str | None
    relationship_manager: RelationshipManagerSlot
    customer_since: date
    status: str
    closed_on: date | None
    closed_reason: str
    total_assets_cents: int
    liabilities_cents: int | None
    annual_income_cents: int | None
    credit_rating: str
    risk_tolerance: str
    consent_data_processing: str
    consent_data_processing_at: str | None
    consent_marketing: str
    consent_marketing_at: str | None
    consent_channel: str
    preferred_channel: str
    info_updated_at: str
    holdings: list[HoldingPlan]
    defects: frozenset[str]
    # Activity: transactions fall on window days [active_from, active_to] (indexes).
    active_from: int
    active_to: int
    transaction_weight: float
    turnover_yuan: float
    interactions_until: int
    transactions: int = 0


@dataclass
class ChunkPayload:
    """CSV bytes per table for one chunk, and what they contain."""

    chunk_no: int
    customers: bytes
    holdings: bytes
    transactions: bytes
    interactions: bytes
    rows: Counter
    segments: Counter
    defects: Counter


class _Window:
    """The transaction window as day strings, shared by the profiles and the activity of a chunk."""

    def __init__(self, plan: SeedPlan):
        self.start = plan.window_start
        self.as_of = plan.as_of
        self.length = (plan.as_of - self.start).days + 1
        self.days = [(self.start + timedelta(days=offset)).isoformat() for offset in range(self.length)]

    def index_of(self, day: date) -> int:
        return (day - self.start).days


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _lognormal(rng: random.Random, median: float, sigma: float, low: float, high: float) -> float:
    for _attempt in range(8):
        value = median * math.exp(rng.gauss(0.0, sigma))
        if low <= value <= high:
            return value
    return min(max(value, low), high)


def _timestamp(rng: random.Random, day: date) -> str:
    return f"{day.isoformat()} {CLOCK[rng.randrange(len(CLOCK))]}{TZ_SUFFIX}"


def _poisson(rng: random.Random, mean: float) -> int:
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _name(rng: random.Random, gender: str) -> tuple[str, str]:
    family, pinyin, _weight = rng.choices(catalogue.FAMILY_NAMES, cum_weights=FAMILY_CUM_WEIGHTS)[0]
    own = catalogue.GIVEN_MALE if gender == Gender.MALE else catalogue.GIVEN_FEMALE
    two_characters = rng.random() < 0.7
    given = rng.choice(catalogue.GIVEN_EITHER + own) + rng.choice(own) if two_characters else rng.choice(own)
    return family + given, pinyin


def _id_number(rng: random.Random, *, birth_date: date, gender: str, city: str, defect: str | None) -> str:
    if rng.random() < 0.55:
        region = rng.choice(catalogue.CITIES[city]["districts"])[0]
    else:
        region = rng.choice(catalogue.OTHER_REGION_CODES)
    id_birth = birth_date
    if defect == DataQualityRule.ID_BIRTH_DATE:
        id_birth = birth_date + timedelta(days=rng.choice((-1, 1)) * rng.randint(1, 400))
    # The 17th digit is odd for men and even for women.
    parity_digits = (1, 3, 5, 7, 9) if gender == Gender.MALE else (0, 2, 4, 6, 8)
    sequence = rng.randrange(100) * 10 + rng.choice(parity_digits)
    body = f"{region}{id_birth:%Y%m%d}{sequence:03d}"
    check = id_check_char(body)
    if defect == DataQualityRule.ID_CHECK_DIGIT:
        check = rng.choice([char for char in RESIDENT_ID_CHECK_CHARACTERS if char != check])
    return body + check


def _phone(rng: random.Random, *, defect: bool) -> str:
    phone = rng.choice(catalogue.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    if defect:  # a digit lost on entry: 10 digits
        position = rng.randint(3, 10)
        phone = phone[:position] + phone[position + 1:]
    return phone


def _email(rng: random.Random, pinyin: str) -> str:
    domain = rng.choices(EMAIL_DOMAIN_NAMES, cum_weights=EMAIL_DOMAIN_CUM)[0]
    if domain == "qq.com" and rng.random() < 0.7:
        return f"{rng.randrange(10**5, 10**10)}@qq.com"
    return f"{pinyin}{rng.choice(catalogue.EMAIL_SYLLABLES)}{rng.randrange(100)}@{domain}"


def _address(rng: random.Random, city: str) -> str:
    spec = catalogue.CITIES[city]
    district = rng.choice(spec["districts"])[1]
    return (f"{spec['prefix']}{district}{rng.choice(spec['roads'])}{rng.randint(1, 300)}号"
            f"{rng.choice(catalogue.COMPOUNDS)}{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元"
            f"{rng.randint(1, 33)}{rng.randint(1, 4):02d}室")


def _split_cents(total_cents: int, weights: list[float]) -> list[int]:
    """Split total_cents in proportion to weights, exactly (the last part takes the rounding)."""
    weight_sum = sum(weights)
    parts = [int(total_cents * weight / weight_sum) for weight in weights[:-1]]
    parts.append(total_cents - sum(parts))
    return parts


def _day_between(rng: random.Random, first: date, last: date) -> date:
    if last <= first:
        return first
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _holdings(
    rng: random.Random, profile: SegmentProfile, *, risk_tolerance: str, assets_cents: int, since: date,
    window: _Window, closed_on: date | None, matured_max: int,
) -> tuple[list[HoldingPlan], int]:
    """Return the holdings (open asset balances sum to assets_cents) and the liabilities in cents."""
    end = closed_on or window.as_of
    tolerance_rank = RISK_ORDER[risk_tolerance]
    asset_codes, asset_weights = ["DEP-CUR"], [profile.current_account_weight * (0.5 + rng.random())]
    for code, (probability, weight) in profile.asset_products.items():
        if rng.random() < probability and RISK_ORDER[catalogue.PRODUCT_BY_CODE[code][2]] <= tolerance_rank:
            asset_codes.append(code)
            asset_weights.append(weight * (0.5 + rng.random()))
    holdings = [HoldingPlan("CD-DEBIT", 0, since)]
    for code, balance in zip(asset_codes, _split_cents(assets_cents, asset_weights), strict=True):
        opened = since if code == "DEP-CUR" else _day_between(rng, since, end)
        holdings.append(HoldingPlan(code, balance, opened))
    liabilities_cents = 0
    for code, (probability, low, high) in profile.liability_products.items():
        if rng.random() < probability:
            balance = rng.randint(low, high) * 100 + rng.randrange(100)
            if code.startswith("LN-"):
                balance = balance // 100_000 * 100_000  # loans are granted in thousands of yuan
            liabilities_cents += balance
            holdings.append(HoldingPlan(code, balance, _day_between(rng, since, end)))
    # Matured products: closed within the window, balance 0.
    for _ in range(rng.randint(0, matured_max)):
        opened = _day_between(rng, since, end - timedelta(days=120))
        if opened >= end - timedelta(days=120):
            break
        code = rng.choice(("WM-FIX90", "WM-FIX1Y", "DEP-FIX1Y"))
        closed = opened + timedelta(days=91 if code == "WM-FIX90" else 365)
        if closed <= end and closed >= window.start:
            holdings.append(HoldingPlan(code, 0, opened, closed))
    if closed_on is not None:  # a closed customer closed everything on the same day
        for holding in holdings:
            holding.balance_cents = 0
            holding.closed_on = holding.closed_on or closed_on
        liabilities_cents = 0
    return holdings, liabilities_cents


def _profile(rng: random.Random, plan: SeedPlan, window: _Window, index: int) -> CustomerProfile:
    as_of = plan.as_of
    draw = rng.random()
    segment = SEGMENTS[bisect(SEGMENT_CUM_SHARES, draw)]
    profile = SEGMENT_PROFILES[segment]
    rm = plan.relationship_managers[index % len(plan.relationship_managers)]

    # Deliberate defects, drawn first so every customer uses the same number of draws for them.
    defect_draw = rng.random()
    id_defect = (DataQualityRule.ID_CHECK_DIGIT if defect_draw < DEFECT_RATE
                 else DataQualityRule.ID_BIRTH_DATE if defect_draw < 2 * DEFECT_RATE else None)
    missing = rng.choice(MISSING_RULES) if rng.random() < DEFECT_RATE else None
    stale = rng.random() < DEFECT_RATE
    assets_mismatch = rng.random() < DEFECT_RATE
    phone_defect = rng.random() < DEFECT_RATE
    defects = {rule for rule in (id_defect, missing) if rule}
    if stale:
        defects.add(DataQualityRule.STALE)
    if assets_mismatch:
        defects.add(DataQualityRule.ASSETS_MISMATCH)
    if phone_defect:
        defects.add(DataQualityRule.PHONE_FORMAT)

    gender = Gender.MALE if rng.random() < profile.share_male else Gender.FEMALE
    name, pinyin = _name(rng, gender)
    age = rng.randint(*profile.age_range)
    birth_date = as_of - timedelta(days=age * 365 + age // 4 + rng.randrange(365))
    id_number = _id_number(rng, birth_date=birth_date, gender=gender, city=rm.city, defect=id_defect)
    phone = _phone(rng, defect=phone_defect)
    email = _email(rng, pinyin) if rng.random() < profile.email_rate else None
    address = _address(rng, rm.city)
    occupation = rng.choice(catalogue.OCCUPATIONS[segment])

    adult_on = max(birth_date + timedelta(days=18 * 366), EARLIEST_CUSTOMER_SINCE)
    if rng.random() < NEW_CUSTOMER_RATE:
        since = as_of - timedelta(days=rng.randint(0, 364))
    else:
        since = _day_between(rng, adult_on, as_of - timedelta(days=365))
    since = min(since, as_of)
    if stale:
        info_updated = as_of - timedelta(days=rng.randint(STALE_AFTER_DAYS + 35, 1800))
        since = min(since, info_updated)
    else:
        info_updated = max(as_of - timedelta(days=rng.randint(0, STALE_AFTER_DAYS - 35)), since)

    # Activity period: dormant ordinary customers stopped transacting more than a year ago,
    # and some of them have closed their relationship with the bank.
    active_from = max(0, window.index_of(since))
    active_to = window.length - 1
    status, closed_on, closed_reason = CustomerStatus.ACTIVE, None, ""
    if segment == ORDINARY and rng.random() < DORMANT_RATE_ORDINARY:
        last_day = (window.length - 366 - rng.randint(0, 90) if window.length > 456 else window.length // 2)
        if last_day >= active_from:
            active_to = last_day
            if rng.random() < CLOSED_SHARE_OF_DORMANT:
                status = CustomerStatus.CLOSED
                closed_on = min(as_of, window.start + timedelta(days=active_to + rng.randint(30, 200)))
                closed_reason = rng.choice(catalogue.CLOSED_REASONS)
    interactions_until = window.index_of(closed_on) if closed_on else window.length - 1

    risk_tolerance = _weighted(rng, profile.risk_tolerances)
    credit_rating = _weighted(rng, profile.ratings)
    preferred_channel = _weighted(rng, profile.channels)
    assets_cents = 0 if closed_on else round(_lognormal(rng, *profile.assets) * 100)
    income_cents = round(_lognormal(rng, *profile.income)) * 100
    holdings, liabilities_cents = _holdings(
        rng, profile, risk_tolerance=risk_tolerance, assets_cents=assets_cents, since=since, window=window,
        closed_on=closed_on, matured_max=1 if segment == ORDINARY else 2,
    )
    if assets_mismatch:
        if assets_cents:
            factor = rng.uniform(0.3, 0.6) if rng.random() < 0.5 else rng.uniform(1.6, 3.0)
            declared_cents = round(assets_cents * factor / 100) * 100
        else:
            declared_cents = rng.randint(10_000, 100_000) * 100
    else:  # declared within 3 % of the holdings, to the yuan
        declared_cents = round(assets_cents * rng.uniform(0.97, 1.03) / 100) * 100
    turnover_yuan = _lognormal(rng, *profile.turnover)

    data_consent, marketing_consent = _weighted(rng, {ConsentState.GIVEN: 85, ConsentState.WITHDRAWN: 3,
                                                      ConsentState.UNKNOWN: 12}), \
        _weighted(rng, {ConsentState.GIVEN: 55, ConsentState.WITHDRAWN: 10, ConsentState.UNKNOWN: 35})
    consent_day = min(as_of, max(since, PIPL_EFFECTIVE) + timedelta(days=rng.randrange(90)))
    consent_at = _timestamp(rng, consent_day)
    consent_channel = rng.choice((Channel.BRANCH, Channel.MOBILE, Channel.ONLINE))

    if missing == DataQualityRule.MISSING_BASIC:
        occupation, address = "", None
    elif missing == DataQualityRule.MISSING_FINANCIAL:
        income_cents, liabilities_cents = None, None
    elif missing == DataQualityRule.MISSING_BEHAVIOUR:
        preferred_channel = ""
    elif missing == DataQualityRule.MISSING_RISK:
        credit_rating, risk_tolerance = "", ""

    return CustomerProfile(
        index=index, external_id=external_id_for(seed=plan.seed, index=index), segment=segment, name=name,
        gender=gender, birth_date=birth_date, occupation=occupation, id_number=id_number, phone=phone,
        email=email, address=address, relationship_manager=rm, customer_since=since, status=status,
        closed_on=closed_on, closed_reason=closed_reason, total_assets_cents=declared_cents,
        liabilities_cents=liabilities_cents, annual_income_cents=income_cents, credit_rating=credit_rating,
        risk_tolerance=risk_tolerance,
        consent_data_processing=data_consent,
        consent_data_processing_at=None if data_consent == ConsentState.UNKNOWN else consent_at,
        consent_marketing=marketing_consent,
        consent_marketing_at=None if marketing_consent == ConsentState.UNKNOWN else consent_at,
        consent_channel="" if data_consent == marketing_consent == ConsentState.UNKNOWN else consent_channel,
        preferred_channel=preferred_channel, info_updated_at=_timestamp(rng, info_updated),
        holdings=holdings, defects=frozenset(defects),
        active_from=active_from, active_to=active_to,
        transaction_weight=profile.txn_weight * (active_to - active_from + 1) / window.length,
        turnover_yuan=turnover_yuan, interactions_until=interactions_until,
    )


def _allocate_transactions(plan: SeedPlan, profiles: list[CustomerProfile]) -> None:
    """Share the chunk's transactions among its customers by weight (largest remainder).

    Chunk [start, stop) holds round(stop x rate) - round(start x rate) transactions, rate being
    transactions_per_month x months: the chunks add up to exactly round(customers x rate), so the
    book-wide mean per customer per month is the flag's value.
    """
    if not profiles:
        return
    rate = plan.transactions_per_month * plan.months
    total = round((profiles[-1].index + 1) * rate) - round(profiles[0].index * rate)
    weight_sum = sum(profile.transaction_weight for profile in profiles)
    if not total or not weight_sum:
        return
    quotas = [total * profile.transaction_weight / weight_sum for profile in profiles]
    counts = [int(quota) for quota in quotas]
    by_remainder = sorted(range(len(profiles)), key=lambda i: (counts[i] - quotas[i], i))
    for position in by_remainder[: total - sum(counts)]:
        counts[position] += 1
    for profile, count in zip(profiles, counts, strict=True):
        profile.transactions = count


def customer_profiles(plan: SeedPlan, chunk_no: int) -> list[CustomerProfile]:
    """Return the plaintext customers of one chunk, their holdings and transaction counts."""
    rng = random.Random(f"{plan.seed}:{chunk_no}:customers")
    window = _Window(plan)
    profiles = [_profile(rng, plan, window, index) for index in plan.chunk_range(chunk_no)]
    _allocate_transactions(plan, profiles)
    return profiles


def _cents(value: int | None) -> str:
    if value is None:
        return ""
    sign, value = ("-", -value) if value < 0 else ("", value)
    return f"{sign}{value // 100}.{value % 100:02d}"


def _text(value: str) -> str:
    """CSV for a non-null text: an unquoted empty field would be read as NULL."""
    return value if value else '""'


def _optional(value) -> str:
    return "" if value is None else str(value)


def _encrypted(value: str | None) -> str:
    return "" if value is None else crypto.encrypt(plaintext=value)


def _customer_row(profile: CustomerProfile, customer_id: int, loaded_at: str) -> str:
    rm = profile.relationship_manager
    fields = [
        str(customer_id), profile.external_id, profile.name, profile.gender, profile.birth_date.isoformat(),
        _text(profile.occupation),
        _encrypted(profile.id_number), crypto.blind_index(kind="id_number", value=profile.id_number) or "",
        _encrypted(profile.phone), crypto.blind_index(kind="phone", value=profile.phone) or "",
        _encrypted(profile.email), _encrypted(profile.address),
        str(rm.branch_id), str(rm.user_id), profile.customer_since.isoformat(), profile.status,
        _optional(profile.closed_on), _text(profile.closed_reason),
        _cents(profile.total_assets_cents), _cents(profile.liabilities_cents),
        _cents(profile.annual_income_cents),
        _text(profile.credit_rating), _text(profile.risk_tolerance),
        profile.consent_data_processing, _optional(profile.consent_data_processing_at),
        profile.consent_marketing, _optional(profile.consent_marketing_at),
        _text(profile.consent_channel), _text(profile.preferred_channel), profile.info_updated_at,
        loaded_at, loaded_at, _text(""),
    ]
    return ",".join(fields) + "\n"


CUSTOMER_COLUMNS = (
    "id", "external_id", "name", "gender", "birth_date", "occupation", "id_number", "id_number_bidx", "phone",
    "phone_bidx", "email", "address", "branch_id", "relationship_manager_id", "customer_since", "status",
    "closed_on", "closed_reason", "total_assets", "liabilities", "annual_income", "credit_rating",
    "risk_tolerance", "consent_data_processing", "consent_data_processing_at", "consent_marketing",
    "consent_marketing_at", "consent_channel", "preferred_channel", "info_updated_at",
    "created_at", "updated_at", "region",
)
HOLDING_COLUMNS = ("external_ref", "customer_id", "product_id", "balance", "opened_on", "closed_on")
TRANSACTION_COLUMNS = ("external_ref", "customer_id", "occurred_at", "amount", "direction", "channel", "type")
INTERACTION_COLUMNS = ("customer_id", "staff_id", "kind", "occurred_at", "summary", "outcome", "next_step",
                       "next_step_due_on", "created_at")


def _write_transactions(rng: random.Random, out: io.StringIO, profile: CustomerProfile, customer_id: int,
                        days: list[str]) -> None:
    count = profile.transactions
    if not count:
        return
    span = profile.active_to - profile.active_from + 1
    mean_amount = profile.turnover_yuan * span / (365 * count)
    entries, cum_weights = TRANSACTION_MIX[profile.segment]
    picks = rng.choices(entries, cum_weights=cum_weights, k=count)
    random_ = rng.random
    log = math.log
    first_day = profile.active_from
    clock, clock_size = CLOCK, len(CLOCK)
    prefix = f"{profile.external_id}T"
    middle = f",{customer_id},"
    lines = []
    for number, (tail, factor, rounded) in enumerate(picks):
        # Stratified over the active period: the k-th transaction falls in the k-th slice.
        day = first_day + int((number + random_()) * span / count)
        amount = mean_amount * factor * (0.2 - 0.8 * log(1.0 - random_()))
        if rounded and amount >= 1000:
            amount = round(amount, -2)
        elif amount < 1:
            amount = 1.0
        at = clock[int(random_() * clock_size)]
        lines.append(f"{prefix}{number + 1}{middle}{days[day]} {at}{TZ_SUFFIX},{amount:.2f},{tail}\n")
    out.write("".join(lines))


def _interaction_count(rng: random.Random, segment: str, year_fraction: float) -> int:
    if segment == HIGH_NET_WORTH:
        frequent = rng.random() < HNW_INTERACTIONS_SHARE_FREQUENT
        per_year = rng.randint(5, 12) if frequent else rng.randint(1, 4)
        return round(per_year * year_fraction)
    return _poisson(rng, INTERACTIONS_PER_YEAR[segment] * year_fraction)


def _write_interactions(rng: random.Random, out: io.StringIO, profile: CustomerProfile, customer_id: int,
                        window: _Window) -> int:
    """Write the customer's interactions, counted per 12-month period back from as_of."""
    product_names = [catalogue.PRODUCT_BY_CODE[code][0] for code in RECOMMENDABLE[profile.segment]]
    kind_names, kind_cum_weights = INTERACTION_KIND_MIX[profile.segment]
    written = 0
    period_end = window.length - 1
    while period_end >= 0:
        period_start = max(0, period_end - 364)
        count = _interaction_count(rng, profile.segment, (period_end - period_start + 1) / 365)
        first = max(period_start, profile.active_from)
        last = min(period_end, profile.interactions_until)
        period_end -= 365
        if first > last:
            continue
        for _ in range(count):
            day_index = rng.randint(first, last)
            kind = rng.choices(kind_names, cum_weights=kind_cum_weights)[0]
            summary = rng.choice(catalogue.INTERACTION_SUMMARIES[kind]).format(
                product=rng.choice(product_names), topic=rng.choice(catalogue.SALON_TOPICS))
            outcome = rng.choices(OUTCOME_NAMES, cum_weights=OUTCOME_CUM_WEIGHTS)[0]
            next_step, due_on = "", ""
            if outcome in OUTCOMES_WITH_NEXT_STEP:
                next_step = rng.choice(catalogue.NEXT_STEPS)
                due_on = (window.start + timedelta(days=day_index + rng.randint(3, 14))).isoformat()
            at = rng.randrange(*OFFICE_HOURS)
            recorded = min(at + rng.randrange(60, 7200), len(CLOCK) - 1)
            day = window.days[day_index]
            out.write(f"{customer_id},{profile.relationship_manager.user_id},{kind},"
                      f"{day} {CLOCK[at]}{TZ_SUFFIX},{summary},{outcome},{_text(next_step)},{due_on},"
                      f"{day} {CLOCK[recorded]}{TZ_SUFFIX}\n")
            written += 1
    return written


def chunk_render(plan: SeedPlan, chunk_no: int) -> ChunkPayload:
    """Return the CSV rows of one chunk for the four tables, PII encrypted."""
    profiles = customer_profiles(plan, chunk_no)
    # Separate streams: the interactions do not change with --transactions-per-month.
    transactions_rng = random.Random(f"{plan.seed}:{chunk_no}:transactions")
    interactions_rng = random.Random(f"{plan.seed}:{chunk_no}:interactions")
    window = _Window(plan)
    product_ids = dict(plan.product_ids)
    customers, holdings, transactions, interactions = (io.StringIO() for _ in range(4))
    rows, segments, defects = Counter(), Counter(), Counter()
    for profile in profiles:
        customer_id = plan.first_customer_id + profile.index
        customers.write(_customer_row(profile, customer_id, plan.loaded_at))
        for number, holding in enumerate(profile.holdings, start=1):
            holdings.write(f"{profile.external_id}H{number},{customer_id},{product_ids[holding.product_code]},"
                           f"{_cents(holding.balance_cents)},{holding.opened_on.isoformat()},"
                           f"{_optional(holding.closed_on)}\n")
        _write_transactions(transactions_rng, transactions, profile, customer_id, window.days)
        rows["interactions"] += _write_interactions(interactions_rng, interactions, profile, customer_id, window)
        rows["holdings"] += len(profile.holdings)
        rows["transactions"] += profile.transactions
        segments[profile.segment] += 1
        defects.update(profile.defects)
    rows["customers"] = len(profiles)
    return ChunkPayload(
        chunk_no=chunk_no, customers=customers.getvalue().encode(), holdings=holdings.getvalue().encode(),
        transactions=transactions.getvalue().encode(), interactions=interactions.getvalue().encode(),
        rows=rows, segments=segments, defects=defects,
    )
