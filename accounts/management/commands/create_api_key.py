"""manage.py create_api_key NAME --scopes a,b [--expires-in-days N] [--branch CODE]: print a new key once."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts import services
from accounts.models import ApiScope, Branch
from core.errors import ApplicationError


class Command(BaseCommand):
    help = "Create an API key for another bank system and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The system that will use the key, e.g. core-banking.")
        parser.add_argument(
            "--scopes", required=True, help=f"Comma-separated scopes from: {', '.join(ApiScope.values)}."
        )
        parser.add_argument("--expires-in-days", type=int, default=None, help="Expire the key after N days.")
        parser.add_argument("--branch", default=None, help="Limit the key to the branch with this code.")

    def handle(self, *args, name: str, scopes: str, expires_in_days: int | None, branch: str | None, **options):
        branch_obj = None
        if branch:
            branch_obj = Branch.objects.filter(code=branch).first()
            if branch_obj is None:
                raise CommandError(f"No branch with code {branch!r}.")
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1.")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            api_key, raw_key = services.api_key_create(
                name=name,
                scopes=[scope.strip() for scope in scopes.split(",") if scope.strip()],
                by=None,
                expires_at=expires_at,
                branch=branch_obj,
            )
        except ApplicationError as error:
            raise CommandError(error.message) from error
        # The key alone on stdout (scripts capture it); the explanation on stderr.
        self.stderr.write(
            f"Created API key {api_key.name!r} (prefix {api_key.prefix}, scopes {', '.join(api_key.scopes)}). "
            "Store it now: it cannot be shown again."
        )
        self.stdout.write(raw_key)
