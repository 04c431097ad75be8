from django.http import HttpRequest

from accounts import permissions


def roles(request: HttpRequest) -> dict:
    """Expose the role predicates to templates as ``perms_crm.<name>`` (menus, buttons)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"perms_crm": {}}
    return {
        "perms_crm": {
            "is_admin": permissions.is_admin(user),
            "is_relationship_manager": permissions.is_relationship_manager(user),
            "is_branch_manager": permissions.is_branch_manager(user),
            "is_complaint_desk": permissions.is_complaint_desk(user),
            "is_compliance_auditor": permissions.is_compliance_auditor(user),
            "can_reveal_pii": permissions.can_reveal_pii(user),
            "can_delegate_customers": permissions.can_delegate_customers(user),
            "can_view_delegations": permissions.can_view_delegations(user),
            "can_view_customers": permissions.can_view_customers(user),
            "can_view_data_quality_queue": permissions.can_view_data_quality_queue(user),
            "can_record_interaction": permissions.can_record_interaction(user),
            "can_view_next_steps": permissions.can_view_next_steps(user),
            "can_view_segments": permissions.can_view_segments(user),
            "can_record_service": permissions.can_record_service(user),
            "can_view_service_report": permissions.can_view_service_report(user),
            "can_view_complaints": permissions.can_view_complaints(user),
            "can_handle_complaints": permissions.can_handle_complaints(user),
            "can_view_complaint_hotspots": permissions.can_view_complaint_hotspots(user),
            "can_view_kpis": permissions.can_view_kpis(user),
            "can_view_reports": permissions.can_view_reports(user),
        }
    }
