from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services import DEFAULT_DAYS, MAX_DAYS, issue_token


class Command(BaseCommand):
    help = (
        "Issue an API token for a user. The raw token is printed once, alone on the last "
        "line of stdout (scripts read it from there); only its hash is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="what the token is for")
        parser.add_argument(
            "--days", type=int, default=DEFAULT_DAYS, help=f"lifetime, 1-{MAX_DAYS} days"
        )

    def handle(self, *args, username, name, days, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        try:
            issued = issue_token(user, name=name, days=days)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        token = issued.token
        self.stdout.write(
            f"Token {token.name!r} ({token.prefix}…) for {username}, "
            f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC. Shown once:"
        )
        self.stdout.write(issued.raw)
