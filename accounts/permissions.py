"""Role predicates: the one place that says who may do what (STYLE.md §8).

Views, DRF permission classes and templates (through the ``roles`` context processor) all ask
these functions; nothing else inspects groups.
"""

from __future__ import annotations

from collections.abc import Callable

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.models import ApiClient, Delegation, Role, User


def is_admin(user: User) -> bool:
    return user.is_authenticated and user.is_active and (user.is_superuser or user.has_role(Role.ADMIN))


def is_relationship_manager(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.RELATIONSHIP_MANAGER)


def is_branch_manager(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.BRANCH_MANAGER)


def is_complaint_desk(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.COMPLAINT_DESK)


def is_compliance_auditor(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.COMPLIANCE_AUDITOR)


def can_reveal_pii(user: User) -> bool:
    """Unmasked PII is for the staff who serve the customer; auditors read masked data only."""
    return (
        is_relationship_manager(user) or is_branch_manager(user) or is_complaint_desk(user) or is_admin(user)
    )


def can_view_audit_log(user: User) -> bool:
    return is_compliance_auditor(user) or is_admin(user)


def can_delegate_customers(user: User) -> bool:
    return is_relationship_manager(user)


def can_view_delegations(user: User) -> bool:
    """RMs see the delegations they gave or received; branch managers and admins oversee them."""
    return is_relationship_manager(user) or is_branch_manager(user) or is_admin(user)


def can_create_delegation(user: User, *, delegator: User) -> bool:
    """An RM delegates their own customers; an administrator may record one for them."""
    return (is_relationship_manager(user) and user.pk == delegator.pk) or is_admin(user)


def can_revoke_delegation(user: User, delegation: Delegation) -> bool:
    """Only the delegator (or an administrator) ends a delegation early; the backup cannot drop it."""
    return (is_relationship_manager(user) and delegation.delegator_id == user.pk) or is_admin(user)


def can_view_customers(user: User) -> bool:
    """Staff who serve or oversee customers; the selector decides which customers."""
    return (
        is_relationship_manager(user) or is_branch_manager(user) or is_complaint_desk(user)
        or is_compliance_auditor(user) or is_admin(user)
    )



# --- Record sharing (issue 10, point 8) -----------------------------------------------------


def can_share_customer(user: User, customer) -> bool:
    """The customer's own RM, a branch manager of the customer's branch, or an administrator."""
    if is_admin(user):
        return True
    if is_relationship_manager(user) and customer.relationship_manager_id == user.pk:
        return True
    return is_branch_manager(user) and user.branch_id is not None and customer.branch_id == user.branch_id


def can_share_complaint(user: User, complaint) -> bool:
    """The complaint desk or branch manager of the complaint's branch, or an administrator."""
    if is_admin(user):
        return True
    return ((is_complaint_desk(user) or is_branch_manager(user)) and user.branch_id is not None
            and complaint.branch_id == user.branch_id)


def can_view_shared_with_me(user: User) -> bool:
    """Staff whose role opens customers or complaints can be named in a share, so they see the list."""
    return can_view_customers(user) or can_view_complaints(user)


def can_revoke_share(user: User, share, *, may_share_record: bool) -> bool:
    """Whoever shared it, or anyone who may share the record now (its owner, their manager, an admin)."""
    return user.is_authenticated and (share.shared_by_id == user.pk or may_share_record)


def sees_all_branches(user: User) -> bool:
    """Head-office roles whose customer scope spans every branch."""
    return is_admin(user) or is_compliance_auditor(user)


def can_view_data_quality_queue(user: User) -> bool:
    return is_branch_manager(user) or sees_all_branches(user)


def can_see_data_quality_issues(user: User) -> bool:
    """Who sees a customer's open data-quality issues on the 360 page."""
    return is_relationship_manager(user) or can_view_data_quality_queue(user)


def can_view_next_steps(user: User) -> bool:
    """"My next steps": an RM's own (and delegated) customers; a branch manager's whole branch."""
    return is_relationship_manager(user) or is_branch_manager(user)


def can_edit_customer(user: User) -> bool:
    """Correct a customer's information (the edit form); PII fields also need can_reveal_pii."""
    return is_relationship_manager(user) or is_branch_manager(user) or is_admin(user)


def can_manage_consent(user: User) -> bool:
    """Record a customer's giving or withdrawal of consent: the staff who serve the customer."""
    return is_relationship_manager(user) or is_branch_manager(user) or is_complaint_desk(user) or is_admin(user)


def can_steward_data_quality(user: User) -> bool:
    """Assign, acknowledge and waive data-quality issues: the branch manager (their branch) and admins."""
    return is_branch_manager(user) or is_admin(user)


def can_record_interaction(user: User) -> bool:
    """Auditors read only; every serving role records contacts with its customers."""
    return is_relationship_manager(user) or is_branch_manager(user) or is_complaint_desk(user) or is_admin(user)


# --- Segmentation (MANUAL 2.1) --------------------------------------------------------------


def can_view_segments(user: User) -> bool:
    """The segment overview is for branch managers (their branch) and head office."""
    return is_branch_manager(user) or sees_all_branches(user)


def can_propose_segment_override(user: User) -> bool:
    """Maker: an RM (own customers) or a branch manager proposes a manual tier override."""
    return is_relationship_manager(user) or is_branch_manager(user)


def can_approve_segment_override(user: User) -> bool:
    """Checker: a branch manager (their branch) or an administrator approves it."""
    return is_branch_manager(user) or is_admin(user)


def can_record_recommendation_feedback(user: User) -> bool:
    return is_relationship_manager(user) or is_branch_manager(user)


def can_view_segment_customers(user: User) -> bool:
    """The customer list by tier and class: RMs (their customers), branch managers and head office."""
    return is_relationship_manager(user) or can_view_segments(user)


def can_view_recommendations(user: User) -> bool:
    """Recommendations on the 360 page: those who offer them, and head office reading along."""
    return can_record_recommendation_feedback(user) or sees_all_branches(user)


# --- Service processes and surveys (MANUAL 2.4, 3.1-3.2) ---------------------------------------


def can_record_service(user: User) -> bool:
    return is_relationship_manager(user) or is_branch_manager(user) or is_complaint_desk(user) or is_admin(user)


def can_view_service_report(user: User) -> bool:
    """Handling times and overruns by touchpoint, per branch."""
    return is_branch_manager(user) or sees_all_branches(user)


def can_view_survey_responses(user: User) -> bool:
    """Survey answers of the customers the user may see (the selector decides which)."""
    return can_view_customers(user)


def can_retag_feedback(user: User) -> bool:
    """Correct the feedback topics the keyword tagger gave an answer; auditors read only."""
    return can_record_service(user)


def can_view_follow_ups(user: User) -> bool:
    """RMs their customers' follow-ups, branch managers their branch's, head office all."""
    return is_relationship_manager(user) or is_branch_manager(user) or sees_all_branches(user)


def can_work_follow_ups(user: User) -> bool:
    """Mark a follow-up done or close it; auditors read only."""
    return is_relationship_manager(user) or is_branch_manager(user) or is_admin(user)


# --- Complaints (MANUAL 3.3) -------------------------------------------------------------------


def can_view_complaints(user: User) -> bool:
    """The desk queue; auditors read it without acting."""
    return is_complaint_desk(user) or is_branch_manager(user) or sees_all_branches(user)


def can_handle_complaints(user: User) -> bool:
    """Log complaints and move them through their states."""
    return is_complaint_desk(user) or is_branch_manager(user) or is_admin(user)


def can_view_complaint_hotspots(user: User) -> bool:
    return is_branch_manager(user) or sees_all_branches(user)


def can_manage_api_keys(user: User) -> bool:
    return is_admin(user)


def is_api_client(principal) -> bool:
    return isinstance(principal, ApiClient)


StaffPredicate = Callable[[User], bool]


def require_scopes(
    *,
    read: str | None = None,
    write: str | None = None,
    staff_read: StaffPredicate | None = None,
    staff_write: StaffPredicate | None = None,
) -> type[BasePermission]:
    """Build a DRF permission class mapping methods to API-key scopes and staff role predicates.

    Safe methods (GET, HEAD, OPTIONS) need ``read`` (a key) or ``staff_read`` (a session user); the
    others need ``write`` / ``staff_write``. A side left as None is refused, so an endpoint grants
    only what it names (Sentry's ``scope_map``). Object access stays with the selectors.
    """

    class ScopePermission(BasePermission):
        scope_map = {"read": read, "write": write}

        def has_permission(self, request, view) -> bool:
            is_safe = request.method in SAFE_METHODS
            principal = request.user
            if is_api_client(principal):
                scope = read if is_safe else write
                return scope is not None and principal.has_scope(scope)
            predicate = staff_read if is_safe else staff_write
            return bool(principal and principal.is_authenticated and predicate is not None and predicate(principal))

    ScopePermission.__name__ = f"RequireScopes({read or '-'}, {write or '-'})"
    return ScopePermission


# --- Effect evaluation (MANUAL Ch. 6) ----------------------------------------------------------


def can_view_kpis(user: User) -> bool:
    """KPI pages and the home dashboard; evaluation.selectors decides which scopes."""
    return can_view_customers(user)


def can_view_reports(user: User) -> bool:
    """Periodic reports: branch managers (their branch and the bank's) and head office."""
    return is_branch_manager(user) or sees_all_branches(user)


def can_regenerate_reports(user: User) -> bool:
    return is_branch_manager(user) or is_admin(user)


def can_edit_kpi_targets(user: User) -> bool:
    return is_admin(user)


def can_export_lists(user: User) -> bool:
    """CSV / XLSX of a list page; the list's own selector decides the rows."""
    return can_view_customers(user)
