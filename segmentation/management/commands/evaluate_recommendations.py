"""Offline evaluation: hit rate@3 of the recommender on held-out holdings against the most popular products."""

from __future__ import annotations

import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

from segmentation import recommending


class Command(BaseCommand):
    help = "Hold out one open holding per sampled customer and count how often the top 3 contain it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sample", type=int, default=100_000, help="Customers to evaluate (default 100,000).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed of the sample and the held-out holding.")
        parser.add_argument("--as-of", dest="as_of", metavar="YYYY-MM-DD", help="Holdings open on this day.")
        parser.add_argument("--top", type=int, default=3, help="Recommendations per customer (default 3).")

    def handle(self, *args, sample, seed, as_of=None, top=3, **options):
        try:
            as_of_date = date.fromisoformat(as_of) if as_of else timezone.localdate()
        except ValueError as exc:
            raise CommandError(f"--as-of {as_of!r} is not a date.") from exc
        started = time.monotonic()
        with connection.cursor() as cursor:
            result = recommending.evaluate(cursor=cursor, as_of=as_of_date, sample=sample, seed=seed, top_n=top)
        if not result.customers:
            raise CommandError("No customer holds two or more open products; nothing to evaluate.")
        self.stdout.write(f"Customers evaluated: {result.customers} (one held-out holding each, seed {seed})")
        self.stdout.write(f"Item-to-item CF      hit rate@{top}: {result.hit_rate_cf:.4f} ({result.hits_cf} hits)")
        self.stdout.write(f"Most popular products hit rate@{top}: {result.hit_rate_popular:.4f} "
                          f"({result.hits_popular} hits)")
        self.stdout.write(f"{time.monotonic() - started:.1f} s")
