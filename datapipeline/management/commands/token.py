"""Personal access tokens for the REST API: create (shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from datapipeline.isotime import iso_utc
from datapipeline.models import PersonalAccessToken
from exports.tokens import token_create, token_list, token_revoke, token_state


class Command(BaseCommand):
    help = "Manage personal access tokens: token create --user NAME --name N [--expires-in-days D] | list | revoke ID"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        create = sub.add_parser("create", help="Create a token; it is printed once and never shown again.")
        create.add_argument("--user", required=True, help="Username of the token's owner (a superuser to use the API).")
        create.add_argument("--name", required=True, help="What the token is for, e.g. 'nightly export'.")
        create.add_argument("--expires-in-days", type=int, default=None, help="Days until it expires (default: never).")
        listing = sub.add_parser("list", help="List tokens (never the token itself: its last four characters).")
        listing.add_argument("--user", default=None, help="Only this user's tokens.")
        revoke = sub.add_parser("revoke", help="Revoke a token by its id (see token list).")
        revoke.add_argument("id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(**options)

    def _create(self, *, user: str, name: str, expires_in_days: int | None, **_: Any) -> None:
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"No user named {user!r}.")
        try:
            token, raw = token_create(user=owner, name=name, expires_in_days=expires_in_days, via="command")
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(raw)
        expiry = f"expires {iso_utc(token.expires_at)}" if token.expires_at else "never expires"
        self.stderr.write(
            self.style.WARNING(
                f"Token {token.pk} ({token.name!r}) for {owner.username}, {expiry}. "
                "Copy it now: it is stored hashed and will not be shown again."
            )
        )
        if not owner.is_superuser:
            self.stderr.write(self.style.WARNING(f"{owner.username} is not a superuser: the API will answer 403."))

    def _list(self, *, user: str | None, **_: Any) -> None:
        tokens = token_list(username=user, newest_first=False)
        now = timezone.now()
        self.stdout.write(f"{'ID':>4}  {'USER':<16} {'NAME':<24} {'TOKEN':<10} {'STATE':<8} {'EXPIRES':<20} LAST USED")
        for token in tokens:
            state = token_state(token, now)
            expires = iso_utc(token.expires_at, timespec="minutes") if token.expires_at else "never"
            used = iso_utc(token.last_used_at, timespec="minutes") if token.last_used_at else "never"
            self.stdout.write(
                f"{token.pk:>4}  {token.user.username:<16} {token.name[:24]:<24} {'…' + token.last_four:<10} "
                f"{state:<8} {expires:<20} {used}"
            )

    def _revoke(self, *, id: int, **_: Any) -> None:
        try:
            token = token_revoke(token_id=id, via="command")
        except PersonalAccessToken.DoesNotExist:
            raise CommandError(f"No token with id {id}.") from None
        self.stdout.write(f"Token {token.pk} ({token.name!r}, …{token.last_four}) is revoked.")
