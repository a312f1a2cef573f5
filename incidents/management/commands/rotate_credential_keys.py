from django.core.management.base import BaseCommand, CommandError

from incidents import credentials
from incidents.models import PhareProject


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored Phare token with the first key of CREDENTIAL_KEYS, so the "
        "other keys can be retired. Tokens are never shown."
    )

    def handle(self, *args, **options):
        rotated, failed = 0, []
        for project in PhareProject.objects.exclude(token_ciphertext=""):
            try:
                credentials.rotate_token(project)
            except credentials.CredentialError as error:
                failed.append(project.slug)
                self.stderr.write(str(error))
                continue
            project.save(update_fields=["token_ciphertext", "updated_at"])
            rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} token(s) with the first key.")
        if failed:
            raise CommandError(
                f"{len(failed)} token(s) could not be decrypted ({', '.join(failed)}): set them "
                "again, or add the key they were encrypted with and rotate again."
            )
