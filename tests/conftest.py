"""Shared fixtures: a real Phare sandbox over HTTP, personas, and a project wired to it."""

import pytest
from django.test import Client

from incidents import services
from incidents.models import Membership, PhareProject
from phare_sandbox import SandboxState, start_in_thread

SANDBOX_TOKEN = "pha_test_sandbox_token_1234"


def clear_rate_budget(settings) -> None:
    """The whole budget back, as after a minute without calls (and any 429 pause over)."""
    if settings.REDIS_URL:
        from incidents import ratelimit

        client = ratelimit.budget()._redis
        for key in client.scan_iter("phare-console:rate:*"):
            client.delete(key)
    else:
        from incidents.models import RateLimitBucket

        RateLimitBucket.objects.all().delete()


@pytest.fixture(autouse=True)
def fresh_rate_budget(settings):
    """Each test starts with the whole budget (Redis keeps it across tests otherwise)."""
    if settings.REDIS_URL:
        clear_rate_budget(settings)


@pytest.fixture(scope="session")
def running_sandbox():
    sandbox = start_in_thread(SandboxState(token=SANDBOX_TOKEN, monitor_count=36))
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(running_sandbox, settings):
    """The sandbox, reset to its seeded state, with the console pointed at it."""
    running_sandbox.state.reset()
    settings.PHARE_API_URL = running_sandbox.url
    return running_sandbox


@pytest.fixture
def alice(django_user_model):
    """An on-call engineer."""
    return django_user_model.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def make_member(user, project: PhareProject, role: str = "responder") -> None:
    Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})


@pytest.fixture
def project(sandbox, alice, db) -> PhareProject:
    """The demo project with its monitors copied from the sandbox; alice is a responder."""
    project, _ = services.project_provision(name="Demo", token=SANDBOX_TOKEN)
    services.monitor_sync(actor=None, project=project)
    make_member(alice, project)
    return project
