"""The Access tokens screen: create a token (shown once), list them, revoke one."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse

from datapipeline.models import PersonalAccessToken

from ..admin_forms import TokenCreateForm
from ..models import Trigger
from ..tokens import token_create, token_list, token_revoke, token_state
from .common import back_to, render, section_url

SECTION = "datapipeline_tokens"


def tokens_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    form = TokenCreateForm()
    status = 200
    created = None
    if request.method == "POST":
        form = TokenCreateForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                token, raw = token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    expires_in_days=form.cleaned_data["expiry_days"],
                    actor=request.user,
                    via=Trigger.ADMIN,
                )
            except ValueError as exc:
                form.add_error("name", str(exc))
            else:
                # The raw token is in this response only: not in the session, not in a message.
                created = {"token": token, "raw": raw}
                form = TokenCreateForm()
                status = 200
    token_admin_url = None
    if model_admin.admin_site.is_registered(PersonalAccessToken):
        token_admin_url = reverse("admin:datapipeline_personalaccesstoken_changelist")
    response = render(
        request,
        model_admin,
        "tokens.html",
        "Personal access tokens",
        SECTION,
        status=status,
        form=form,
        created=created,
        tokens=[
            {
                "token": t,
                "state": token_state(t),
                "revoke_url": reverse("admin:datapipeline_token_revoke", args=[t.pk]) if not t.revoked_at else None,
            }
            for t in token_list(limit=100)
        ],
        token_admin_url=token_admin_url,
    )
    if created:
        response["Cache-Control"] = "no-store"
    return response


def token_revoke_view(request: HttpRequest, model_admin: admin.ModelAdmin, token_id: int) -> HttpResponse:
    token = get_object_or_404(PersonalAccessToken, pk=token_id)
    if request.method == "POST":
        token = token_revoke(token_id=token.pk, user=request.user, via=Trigger.ADMIN)
        messages.success(request, f"Token “{token}” was revoked; requests using it now get 401.")
        return back_to(SECTION)
    back = section_url(SECTION)
    return render(
        request, model_admin, "token_revoke_confirm.html", f"Revoke token {token}", SECTION, token=token, back_url=back
    )
