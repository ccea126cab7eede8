"""Admin for personal access tokens (created here, shown once) and the audit log (read-only)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from exports.admin_forms import checked
from exports.inputs import check_token_expiry
from exports.models import AuditEntry
from exports.tokens import token_create, token_revoke

from .models import PersonalAccessToken


class TokenCreateForm(forms.ModelForm):
    """A token for the signed-in user: the admin offers no choice of owner."""

    class Meta:
        model = PersonalAccessToken
        fields = ["name", "expires_at"]

    def clean_expires_at(self) -> Any:
        return checked(check_token_expiry, self.cleaned_data.get("expires_at"))


def _is_superuser(request: Any) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "masked", "created", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username"]
    raw_id_fields = ["user"]
    readonly_fields = ["user", "name", "masked", "created", "expires_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    # Tokens act with their owner's rights: only superusers may see or manage them here,
    # whatever model permissions a staff user has been given.
    def has_module_permission(self, request: Any) -> bool:
        return _is_superuser(request)

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return _is_superuser(request)

    def has_add_permission(self, request: Any) -> bool:
        return _is_superuser(request)

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return _is_superuser(request)

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return _is_superuser(request)

    @admin.display(description="token")
    def masked(self, token: PersonalAccessToken) -> str:
        return f"dpat_…{token.last_four}"

    def get_form(self, request: Any, obj: Any = None, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = TokenCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: Any, obj: Any = None) -> list[str]:
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request: Any, obj: Any = None) -> list[str]:
        return self.readonly_fields if obj is not None else ["name", "expires_at"]

    def save_model(self, request: Any, obj: PersonalAccessToken, form: Any, change: bool) -> None:
        if change:
            return  # tokens are immutable: revoke and create a new one instead
        token, raw = token_create(
            user=request.user, name=obj.name, expires_at=obj.expires_at, actor=request.user, via="admin"
        )
        obj.pk = token.pk
        obj.refresh_from_db()
        messages.warning(
            request,
            format_html(
                "Token for {}: <code>{}</code> — copy it now, it is stored hashed and will not be shown again.",
                token.user,
                raw,
            ),
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: Any, queryset: Any) -> None:
        live = queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True)
        count = 0
        for token_id in list(live):
            token_revoke(token_id=token_id, user=request.user, via="admin")
            count += 1
        self.message_user(request, f"{count} token(s) revoked.")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created", "user", "action", "outcome", "via", "summary"]
    list_filter = ["action", "outcome", "via"]
    search_fields = ["action", "user__username"]
    date_hierarchy = "created"

    @admin.display(description="details")
    def summary(self, entry: AuditEntry) -> str:
        return json.dumps(entry.details, sort_keys=True)[:200]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
