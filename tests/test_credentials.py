"""Stored tokens: encrypted at rest, revealed only on request, keys rotate."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from incidents import credentials
from incidents.models import PhareProject

TOKEN = "pha_canary_token_q7Zx"


@pytest.fixture(autouse=True)
def fresh_cipher():
    credentials._cipher.cache_clear()
    yield
    credentials._cipher.cache_clear()


def test_token_is_stored_encrypted_with_its_last_four(db):
    project = PhareProject(name="Shop", slug="shop")
    credentials.encrypt_token_into(project, f"  {TOKEN}\n")
    project.save()
    stored = PhareProject.objects.get()
    assert TOKEN not in stored.token_ciphertext
    assert stored.token_last4 == "q7Zx"
    assert stored.token_hint == "…q7Zx"
    assert credentials.reveal_token(stored) == TOKEN


def test_dumpdata_never_contains_the_token(db, capsys):
    project = PhareProject(name="Shop", slug="shop")
    credentials.encrypt_token_into(project, TOKEN)
    project.save()
    call_command("dumpdata", "incidents.phareproject")
    assert TOKEN not in capsys.readouterr().out


def test_every_configured_key_decrypts_and_the_first_encrypts(db, settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIAL_KEYS = [old_key]
    project = PhareProject(name="Shop", slug="shop")
    credentials.encrypt_token_into(project, TOKEN)
    settings.CREDENTIAL_KEYS = [new_key, old_key]
    credentials._cipher.cache_clear()
    assert credentials.reveal_token(project) == TOKEN
    settings.CREDENTIAL_KEYS = [new_key]
    credentials._cipher.cache_clear()
    with pytest.raises(credentials.CredentialError, match="cannot be decrypted"):
        credentials.reveal_token(project)


def test_missing_keys_stop_start_up_without_debug(settings):
    settings.CREDENTIAL_KEYS = []
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured, match="CREDENTIAL_KEYS is not set"):
        credentials.check_configuration()


def test_invalid_key_stops_start_up(settings):
    settings.CREDENTIAL_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="entry 1 is not a valid Fernet key"):
        credentials.check_configuration()


def test_debug_derives_a_key_from_the_secret_key_with_a_warning(settings, caplog):
    settings.CREDENTIAL_KEYS = []
    settings.DEBUG = True
    credentials.check_configuration()
    assert "CREDENTIAL_KEYS is not set" in caplog.text
    project = PhareProject(name="Shop", slug="shop")
    credentials.encrypt_token_into(project, TOKEN)
    assert credentials.reveal_token(project) == TOKEN


def test_empty_token_is_refused():
    with pytest.raises(ValueError, match="empty"):
        credentials.encrypt_token_into(PhareProject(), "   ")


@pytest.mark.parametrize("token", ["pha_sëcret_token", "pha_two words", "pha_tab\tx"])
def test_token_that_cannot_travel_in_a_header_is_refused(token):
    with pytest.raises(ValueError, match="printable ASCII"):
        credentials.encrypt_token_into(PhareProject(), token)


def test_rotation_moves_every_token_to_the_first_key(db, settings):
    from io import StringIO

    from django.core.management import CommandError, call_command

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIAL_KEYS = [old_key]
    for name, token in [("Shop", TOKEN), ("Blog", "pha_blog_token_0002")]:
        project = PhareProject(name=name, slug=name.lower())
        credentials.encrypt_token_into(project, token)
        project.save()
    lost = PhareProject(name="Lost", slug="lost")
    credentials.encrypt_token_into(lost, "pha_lost_0003")
    lost.token_ciphertext = Fernet(Fernet.generate_key()).encrypt(b"pha_lost_0003").decode()
    lost.save()

    settings.CREDENTIAL_KEYS = [new_key, old_key]
    credentials._cipher.cache_clear()
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match=r"1 token\(s\) could not be decrypted \(lost\)"):
        call_command("rotate_credential_keys", stdout=out, stderr=err)
    assert "Re-encrypted 2 token(s)" in out.getvalue()
    assert "pha_" not in out.getvalue() + err.getvalue()

    settings.CREDENTIAL_KEYS = [new_key]  # the old key retired
    credentials._cipher.cache_clear()
    assert credentials.reveal_token(PhareProject.objects.get(slug="shop")) == TOKEN
    assert credentials.reveal_token(PhareProject.objects.get(slug="blog")) == "pha_blog_token_0002"
    with pytest.raises(credentials.CredentialError, match="Lost"):
        credentials.reveal_token(PhareProject.objects.get(slug="lost"))
