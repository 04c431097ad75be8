"""Demo data for `make run` and for trying the CRM: branches and one login per role.

Deterministic for a given seed. The customer-information issue (#3) extends this with customers,
products, holdings, transactions and interactions.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction

from accounts.models import Branch, Role, User

DEMO_PASSWORD_FILE = "demo-password.txt"

BRANCHES = [
    # code, name, region, parent code, head office
    ("HO0001", "总行", "北京", None, True),
    ("BJ0101", "北京朝阳支行", "北京", "HO0001", False),
    ("BJ0102", "北京海淀支行", "北京", "HO0001", False),
]

DEMO_USERS = [
    # username, full name (family, given), staff number, branch, roles, superuser
    ("admin", ("王", "管理"), "A0001", "HO0001", [Role.ADMIN], True),
    ("manager1", ("李", "明"), "M0101", "BJ0101", [Role.BRANCH_MANAGER], False),
    ("rm1", ("张", "伟"), "R0101", "BJ0101", [Role.RELATIONSHIP_MANAGER], False),
    ("rm2", ("刘", "芳"), "R0102", "BJ0101", [Role.RELATIONSHIP_MANAGER], False),
    ("desk1", ("陈", "静"), "D0101", "BJ0101", [Role.COMPLAINT_DESK], False),
    ("auditor1", ("赵", "强"), "C0001", "HO0001", [Role.COMPLIANCE_AUDITOR], False),
]


@dataclass(frozen=True)
class DemoLogins:
    usernames: list[str]
    password: str
    password_source: str


def demo_password() -> tuple[str, str]:
    """CRM_DEMO_PASSWORD, else a password generated once and kept in var/demo-password.txt."""
    if os.environ.get("CRM_DEMO_PASSWORD"):
        return os.environ["CRM_DEMO_PASSWORD"], "CRM_DEMO_PASSWORD"
    path = Path(settings.VAR_DIR) / DEMO_PASSWORD_FILE
    if path.exists():
        return path.read_text().strip(), str(path)
    password = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password, f"generated, kept in {path}"


def demo_is_seeded() -> bool:
    return User.objects.filter(username="admin").exists()


@transaction.atomic
def demo_seed_staff(*, password: str) -> list[str]:
    """Create the demo branches and one login per role; existing rows are left as they are."""
    branches: dict[str, Branch] = {}
    for code, name, region, parent_code, is_head_office in BRANCHES:
        branches[code], _ = Branch.objects.get_or_create(
            code=code,
            defaults={"name": name, "region": region, "parent": branches.get(parent_code),
                      "is_head_office": is_head_office},
        )
    groups = {group.name: group for group in Group.objects.filter(name__in=Role.values)}
    for username, (last_name, first_name), staff_number, branch_code, roles, superuser in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"last_name": last_name, "first_name": first_name, "staff_number": staff_number,
                      "branch": branches[branch_code], "is_staff": superuser, "is_superuser": superuser},
        )
        if created:
            user.set_password(password)
            user.save(update_fields=["password"])
            user.groups.add(*(groups[role.value] for role in roles))
    return [username for username, *_ in DEMO_USERS]
