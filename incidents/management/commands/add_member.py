from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from incidents import services
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
        # As the operator with the server's shell (actor None), audited as the command line.
        old_role = services.membership_set(actor=None, project=project, user=user, role=role)
        verb = "is now" if old_role is None else "is already" if old_role == role else "changed to"
        self.stdout.write(f"{username} {verb} {role} of {project.name}.")
