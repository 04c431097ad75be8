from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """Staff roles. Each is a Django group of the same name, created by a data migration."""

    RELATIONSHIP_MANAGER = "relationship_manager", _("relationship manager")
    BRANCH_MANAGER = "branch_manager", _("branch manager")
    COMPLAINT_DESK = "complaint_desk", _("complaint desk")
    COMPLIANCE_AUDITOR = "compliance_auditor", _("compliance auditor")
    ADMIN = "admin", _("administrator")


class Branch(models.Model):
    """A bank office: the head office at the top, branches (and sub-branches) below it."""

    code = models.CharField(_("branch code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    region = models.CharField(_("region"), max_length=100, blank=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="children",
    )
    is_head_office = models.BooleanField(_("head office"), default=False)

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=F("pk")), name="branch_not_own_parent"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class User(AbstractUser):
    """A member of staff; belongs to one branch and holds roles through groups."""

    staff_number = models.CharField(_("staff number"), max_length=20, unique=True, null=True, blank=True)
    branch = models.ForeignKey(
        "accounts.Branch", verbose_name=_("branch"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="staff",
    )

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        ordering = ["username"]

    def role_names(self) -> frozenset[str]:
        """Names of this user's role groups, cached on the instance for the request."""
        cached = getattr(self, "_role_names", None)
        if cached is None:
            cached = frozenset(self.groups.values_list("name", flat=True)) if self.pk else frozenset()
            self._role_names = cached
        return cached

    def has_role(self, role: Role) -> bool:
        return self.is_active and role.value in self.role_names()
