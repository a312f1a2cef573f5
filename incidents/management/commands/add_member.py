from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from incidents.models import Membership, PhareProject


class Command(BaseCommand):
    help = "Give a user a role in a project (or change it): viewer, responder or admin."

    def add_arguments(self, parser):
        parser.add_argument("project_slug", metavar="PROJECT_SLUG")
        parser.add_argument("username", metavar="USERNAME")
        parser.add_argument("--role", required=True, choices=Membership.Role.values)

    def handle(self, *args, project_slug, username, role, **options):
        project = PhareProject.objects.filter(slug=project_slug).first()
        if project is None:
            raise CommandError(f"No such project: {project_slug}.")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No such user: {username}.")
        membership, created = Membership.objects.update_or_create(
            project=project, user=user, defaults={"role": role}
        )
        verb = "is now" if created else "changed to"
        self.stdout.write(f"{username} {verb} {role} of {project.name}.")
