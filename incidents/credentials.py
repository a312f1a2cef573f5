"""Phare API tokens at rest: encrypted with MultiFernet, revealed only for the Phare client.

CREDENTIAL_KEYS lists Fernet keys; the first encrypts, every key decrypts, so a new key can be
put first and an old one retired after re-encryption.
"""

import base64
import hashlib
import logging
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

from incidents.models import PhareProject

logger = logging.getLogger(__name__)


class CredentialError(Exception):
    """The stored token cannot be used: not set, or no configured key decrypts it."""


@cache
def _cipher() -> MultiFernet:
    keys = [key.strip() for key in settings.CREDENTIAL_KEYS if key.strip()]
    if not keys:
        if not settings.DEBUG:
            raise ImproperlyConfigured(
                "CREDENTIAL_KEYS is not set. Generate a key with: python -c "
                '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
            )
        logger.warning(
            "CREDENTIAL_KEYS is not set: Phare tokens are encrypted with a key derived from "
            "SECRET_KEY. Set CREDENTIAL_KEYS before storing real tokens."
        )
        derived = hashlib.sha256(b"phare-console-credentials:" + settings.SECRET_KEY.encode())
        keys = [base64.urlsafe_b64encode(derived.digest()).decode()]
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except ValueError:
            raise ImproperlyConfigured(
                f"CREDENTIAL_KEYS entry {position} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from None
    return MultiFernet(fernets)


def check_configuration() -> None:
    """Fail fast at start-up when the keys are missing or invalid."""
    _cipher.cache_clear()
    _cipher()


@sensitive_variables()
def validate_token(token: str) -> str:
    """The token as it will be stored, or ValueError saying what is wrong with it."""
    token = token.strip()
    if not token:
        raise ValueError("The token is empty.")
    # It travels in an HTTP header: printable ASCII only (Phare's keys look like pha_…).
    if not (token.isascii() and token.isprintable()) or " " in token:
        raise ValueError("The token can only hold printable ASCII characters without spaces.")
    return token


# Phare's Terraform provider treats keys starting with this as organization-scoped (the API
# documentation does not say): such a key needs the project header on every uptime call.
ORGANIZATION_KEY_PREFIX = "pha_org_"
ORGANIZATION_KEY_NEEDS_PROJECT = (
    "This token is organization-scoped (it starts with pha_org_): every call must name the "
    "project, so the project needs the Phare project id or slug. Set one in the project's "
    "settings (admin), or use a project-scoped token."
)


def is_organization_token(token: str) -> bool:
    return token.strip().startswith(ORGANIZATION_KEY_PREFIX)


@sensitive_variables()
def check_project_named(
    token: str, *, phare_project_id: int | None, phare_project_slug: str | None
) -> None:
    """ValueError when `token` is organization-scoped and no Phare project id or slug is given
    for the header it needs."""
    if is_organization_token(token) and not (phare_project_id or phare_project_slug):
        raise ValueError(ORGANIZATION_KEY_NEEDS_PROJECT)


@sensitive_variables()
def stored_token_is_organization_scoped(project: PhareProject) -> bool:
    """Whether the project's stored token is organization-scoped by its prefix; False when no
    token is stored or it cannot be decrypted."""
    try:
        return is_organization_token(reveal_token(project))
    except CredentialError:
        return False


@sensitive_variables()
def encrypt_token_into(project: PhareProject, token: str) -> None:
    """Encrypt `token` into the project's columns (the caller saves the project). ValueError
    for a token that cannot be used, an organization-scoped one included when the project
    names no Phare project for its header."""
    token = validate_token(token)
    check_project_named(
        token,
        phare_project_id=project.phare_project_id,
        phare_project_slug=project.phare_project_slug,
    )
    project.token_ciphertext = _cipher().encrypt(token.encode()).decode()
    project.token_last4 = token[-4:]
    project.token_fingerprint = hashlib.sha256(token.encode()).hexdigest()[:32]


@sensitive_variables()
def reveal_token(project: PhareProject) -> str:
    """The plain token, for the Phare client's Authorization header and nothing else."""
    if not project.token_ciphertext:
        raise CredentialError(f"No Phare token is stored for project “{project.name}”.")
    try:
        return _cipher().decrypt(project.token_ciphertext.encode()).decode()
    except InvalidToken:
        raise CredentialError(
            f"The Phare token of project “{project.name}” cannot be decrypted with the configured "
            "CREDENTIAL_KEYS. Set the token again or add the key it was encrypted with."
        ) from None


def rotate_token(project: PhareProject) -> None:
    """Re-encrypt the project's token with the first key (the caller saves the project)."""
    if not project.token_ciphertext:
        return
    try:
        project.token_ciphertext = _cipher().rotate(project.token_ciphertext.encode()).decode()
    except InvalidToken:
        raise CredentialError(
            f"The token of project “{project.name}” cannot be decrypted with any configured key."
        ) from None
