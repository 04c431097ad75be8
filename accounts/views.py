"""Staff pages for accounts: parse → authorize → one call → render (STYLE.md §6)."""

from __future__ import annotations

import base64

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View

from accounts import mfa, permissions, selectors, services
from accounts.forms import DelegationCreateForm, MfaCodeForm
from accounts.models import Delegation
from core.errors import ApplicationError
from core.forms import form_add_application_error

OVERVIEW_PAGE_SIZE = 50
SHARED_WITH_ME_PAGE_SIZE = 50


class DelegationListView(LoginRequiredMixin, View):
    """An RM's own delegations and the form to name a backup; the branch's delegations for managers."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not permissions.can_view_delegations(request.user):
            raise PermissionDenied
        form = self._create_form(request) if permissions.can_delegate_customers(request.user) else None
        return self._render(request, form=form)

    def post(self, request: HttpRequest) -> HttpResponse:
        if not permissions.can_delegate_customers(request.user):
            raise PermissionDenied
        form = self._create_form(request, data=request.POST)
        if form.is_valid():
            try:
                delegation = services.delegation_create(
                    delegator=request.user, by=request.user, **form.cleaned_data
                )
            except ApplicationError as error:
                messages.error(request, error.message)
            else:
                messages.success(
                    request,
                    _("%(name)s will look after your customers from %(starts_on)s to %(ends_on)s.")
                    % {
                        "name": delegation.delegate.display_name,
                        "starts_on": delegation.starts_on.isoformat(),
                        "ends_on": delegation.ends_on.isoformat(),
                    },
                )
                return redirect("accounts:delegation-list")
        return self._render(request, form=form, status=400)

    def _create_form(self, request: HttpRequest, data=None) -> DelegationCreateForm:
        return DelegationCreateForm(
            data, delegate_queryset=selectors.delegate_candidates_for(user=request.user)
        )

    def _render(
        self, request: HttpRequest, *, form: DelegationCreateForm | None, status: int = 200
    ) -> HttpResponse:
        user = request.user
        visible = selectors.delegation_list_visible_to(user=user)
        is_rm = permissions.is_relationship_manager(user)
        overview_page = None
        if permissions.is_branch_manager(user) or permissions.is_admin(user):
            overview_page = Paginator(visible, OVERVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
        context = {
            "today": timezone.localdate(),
            "form": form,
            "max_days": Delegation.MAX_DAYS,
            "given": list(visible.filter(delegator=user)) if is_rm else None,
            "received": list(visible.filter(delegate=user)) if is_rm else None,
            "overview_page": overview_page,
        }
        return render(request, "accounts/delegation_list.html", context, status=status)


class DelegationRevokeView(LoginRequiredMixin, View):
    """End one of the RM's delegations now (POST only)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, delegation_id: int) -> HttpResponse:
        if not permissions.can_view_delegations(request.user):
            raise PermissionDenied
        try:
            delegation = selectors.delegation_get_visible_to(user=request.user, delegation_id=delegation_id)
        except Delegation.DoesNotExist as error:
            raise Http404 from error
        if not permissions.can_revoke_delegation(request.user, delegation):
            raise PermissionDenied
        try:
            services.delegation_revoke(delegation=delegation, by=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("The delegation was revoked; the backup no longer sees these customers.")
            )
        return redirect("accounts:delegation-list")


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return resolve_url("home")


def _no_store(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    return response


class MfaSetupView(LoginRequiredMixin, View):
    """Enrol an authenticator app: the key (and otpauth link), then a first code; recovery codes shown once."""

    template_name = "accounts/mfa_setup.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, MfaCodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = MfaCodeForm(request.POST)
        if form.is_valid():
            try:
                codes = mfa.mfa_enrol_confirm(request=request, user=request.user, code=form.cleaned_data["code"])
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                return _no_store(render(request, "accounts/mfa_recovery_codes.html",
                                        {"codes": codes, "next": _safe_next(request)}))
        return self._render(request, form, status=400)

    def _render(self, request: HttpRequest, form: MfaCodeForm, *, status: int = 200) -> HttpResponse:
        device = mfa.mfa_enrol_start(user=request.user)
        key = base64.b32encode(device.bin_key).decode().rstrip("=")
        return _no_store(render(request, self.template_name, {
            "form": form, "key": " ".join(key[i:i + 4] for i in range(0, len(key), 4)),
            "config_url": device.config_url, "required": mfa.mfa_required_for(request.user),
            "next": _safe_next(request),
        }, status=status))


class MfaVerifyView(LoginRequiredMixin, View):
    """The second step of signing in: a code from the authenticator app or a recovery code."""

    template_name = "accounts/mfa_verify.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        if not mfa.mfa_enrolled(request.user):
            return redirect("accounts:mfa-setup")
        return _no_store(render(request, self.template_name, {"form": MfaCodeForm(), "next": _safe_next(request)}))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = MfaCodeForm(request.POST)
        if form.is_valid():
            try:
                mfa.mfa_verify(request=request, user=request.user, code=form.cleaned_data["code"])
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                return redirect(_safe_next(request))
        return _no_store(render(request, self.template_name, {"form": form, "next": _safe_next(request)},
                                status=400))


class SharedWithMeView(LoginRequiredMixin, View):
    """The customers and complaints colleagues shared with the user, in force today, soonest to end first."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not permissions.can_view_shared_with_me(request.user):
            raise PermissionDenied
        page = Paginator(selectors.record_shares_received(user=request.user), SHARED_WITH_ME_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        return render(request, "accounts/shared_with_me.html", {"page": page})
