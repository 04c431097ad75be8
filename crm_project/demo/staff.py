"""Demo branches, one login per role, extra relationship managers, and the product catalogue."""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction

from accounts.models import Branch, Role, User
from crm_project.demo import catalogue
from customers.models import Product

DEMO_PASSWORD_FILE = "demo-password.txt"
BRANCHES = catalogue.BRANCHES

DEMO_USERS = [
    # username, full name (family, given), staff number, branch, roles, superuser
    ("admin", ("王", "管理"), "A0001", "HO0001", [Role.ADMIN], True),
    ("manager1", ("李", "明"), "M0101", "BJ0101", [Role.BRANCH_MANAGER], False),
    ("rm1", ("张", "伟"), "R0101", "BJ0101", [Role.RELATIONSHIP_MANAGER], False),
    ("rm2", ("刘", "芳"), "R0102", "BJ0101", [Role.RELATIONSHIP_MANAGER], False),
    ("desk1", ("陈", "静"), "D0101", "BJ0101", [Role.COMPLAINT_DESK], False),
    ("auditor1", ("赵", "强"), "C0001", "HO0001", [Role.COMPLIANCE_AUDITOR], False),
]
NAMED_RELATIONSHIP_MANAGERS = 2  # rm1 and rm2 above


@dataclass(frozen=True)
class DemoLogins:
    usernames: list[str]
    password: str
    password_source: str


@dataclass(frozen=True)
class RelationshipManagerSlot:
    """What the customer generator needs to know about an RM: ids and the branch's city."""

    user_id: int
    branch_id: int
    city: str


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


def relationship_manager_username(number: int) -> str:
    return f"rm{number}"


def _extra_rm_spec(number: int) -> tuple[str, str, str, str]:
    """Return (family name, given name, staff number, branch code) of rm<number>, number >= 3."""
    rng = random.Random(f"demo-staff:{number}")  # the same person whatever the customer seed
    family = rng.choice(catalogue.FAMILY_NAMES[:40])[0]
    given = rng.choice(catalogue.GIVEN_MALE + catalogue.GIVEN_FEMALE)
    branch_code = catalogue.CUSTOMER_BRANCH_CODES[(number - 3) % len(catalogue.CUSTOMER_BRANCH_CODES)]
    return family, given, f"R{number:05d}", branch_code


@transaction.atomic
def demo_seed_staff(*, password: str, relationship_managers: int = NAMED_RELATIONSHIP_MANAGERS) -> list[str]:
    """Create the demo branches, one login per role and RMs rm3..rm<relationship_managers>.

    Existing rows are left as they are. Every new login gets the same password, hashed once:
    hashing it per user would cost seconds for a few hundred RMs.
    """
    password_hash = make_password(password)
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
                      "branch": branches[branch_code],
                      # Admin-site access: the admin, and the compliance auditor for the audit log.
                      "is_staff": superuser or Role.COMPLIANCE_AUDITOR in roles, "is_superuser": superuser,
                      "password": password_hash},
        )
        if created:
            user.groups.add(*(groups[role.value] for role in roles))

    extra_numbers = range(NAMED_RELATIONSHIP_MANAGERS + 1, relationship_managers + 1)
    wanted = {relationship_manager_username(number): number for number in extra_numbers}
    existing = set(User.objects.filter(username__in=wanted).values_list("username", flat=True))
    new_users = []
    for username, number in wanted.items():
        if username in existing:
            continue
        family, given, staff_number, branch_code = _extra_rm_spec(number)
        new_users.append(User(
            username=username, last_name=family, first_name=given, staff_number=staff_number,
            branch=branches[branch_code], password=password_hash,
        ))
    User.objects.bulk_create(new_users)
    rm_group = groups[Role.RELATIONSHIP_MANAGER.value]
    membership = User.groups.through
    membership.objects.bulk_create(
        [membership(user_id=user.pk, group_id=rm_group.pk) for user in new_users], ignore_conflicts=True
    )
    return [username for username, *_ in DEMO_USERS]


def demo_relationship_managers(*, count: int) -> list[RelationshipManagerSlot]:
    """Return rm1..rm<count> in number order; demo_seed_staff must have created them."""
    usernames = [relationship_manager_username(number) for number in range(1, count + 1)]
    found = User.objects.filter(username__in=usernames).select_related("branch")
    users = {user.username: user for user in found}
    missing = [username for username in usernames if username not in users]
    if missing:
        raise LookupError(f"Demo relationship managers missing: {', '.join(missing[:5])}")
    slots = []
    for username in usernames:
        user = users[username]
        city = user.branch.region if user.branch.region in catalogue.CITIES else "北京"
        slots.append(RelationshipManagerSlot(user_id=user.pk, branch_id=user.branch_id, city=city))
    return slots


@transaction.atomic
def demo_seed_products() -> dict[str, int]:
    """Create the product catalogue (existing codes are left alone); return product ids by code."""
    for code, name, category, risk_level in catalogue.PRODUCTS:
        Product.objects.get_or_create(code=code, defaults={"name": name, "category": category,
                                                           "risk_level": risk_level})
    codes = [code for code, *_ in catalogue.PRODUCTS]
    return dict(Product.objects.filter(code__in=codes).values_list("code", "id"))
