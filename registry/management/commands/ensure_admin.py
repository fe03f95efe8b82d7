import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the local admin login once and print it (development only)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        # The password is kept in var/ (git-ignored) so every `make run` can print it.
        secret_file = Path(settings.BASE_DIR) / "var" / "admin-password.txt"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None or not secret_file.exists():
            password = secrets.token_urlsafe(12)
            secret_file.parent.mkdir(parents=True, exist_ok=True)
            secret_file.write_text(password)
            user = user or User(username=username, email=f"{username}@localhost")
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
        password = secret_file.read_text().strip()
        self.stdout.write(self.style.SUCCESS(f"Admin login: {username} / {password}"))
