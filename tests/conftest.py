"""Shared fixtures: a real Phare sandbox over HTTP, personas, and a project wired to it.

Personas (the same users with the same roles across the suite; see helpers.PERSONAS):
alice the responder, carol the viewer, dave the project admin (all three members of the
`project` fixture's project), bob the outsider (logged in, member of nothing) and root the
superuser. `client_for("viewer")` or `clients["viewer"]` is a logged-in client for one.
"""

from collections.abc import Callable

import pytest
from django.test import Client

from incidents import services
from incidents.models import PhareProject
from phare_sandbox import SandboxState, start_in_thread
from tests.helpers import PERSONAS, SANDBOX_TOKEN, clear_rate_budget, make_member


@pytest.fixture(autouse=True)
def fresh_rate_budget(settings):
    """Each test starts with the whole budget and an empty cache (Redis, and the in-process
    cache without it, keep both across tests otherwise, e.g. a project's recent Phare
    incidents for the duplicate check)."""
    from django.core.cache import cache

    if settings.REDIS_URL:
        clear_rate_budget(settings)
    cache.clear()


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


@pytest.fixture
def project(sandbox, alice, db) -> PhareProject:
    """The demo project with its monitors copied from the sandbox; alice is a responder."""
    project, _ = services.project_provision(name="Demo", token=SANDBOX_TOKEN)
    services.monitor_sync(actor=None, project=project)
    make_member(alice, project)
    return project


@pytest.fixture
def responder(alice, project):
    """alice, a responder of the project: declares incidents."""
    return alice


@pytest.fixture
def viewer(project, django_user_model):
    """carol, a viewer of the project: sees it, declares nothing."""
    user = django_user_model.objects.create_user("carol", password="carol-password-1")
    make_member(user, project, "viewer")
    return user


@pytest.fixture
def project_admin(project, django_user_model):
    """dave, an admin of the project: a responder who also manages its token."""
    user = django_user_model.objects.create_user("dave", password="dave-password-1")
    make_member(user, project, "admin")
    return user


@pytest.fixture
def outsider(django_user_model, db):
    """bob, logged in but a member of no project."""
    return django_user_model.objects.create_user("bob", password="bob-password-1")


@pytest.fixture
def superuser(django_user_model, db):
    """root, who sees every project without a membership."""
    return django_user_model.objects.create_superuser("root", password="root-password-1")


@pytest.fixture
def client_for(request) -> Callable[[str], Client]:
    """A persona's client, logged in ("anonymous": not logged in); one per persona per test."""
    made: dict[str, Client] = {}

    def for_persona(persona: str) -> Client:
        if persona not in PERSONAS:
            raise ValueError(f"No such persona: {persona!r} (one of {', '.join(PERSONAS)})")
        if persona not in made:
            client = Client()
            if persona != "anonymous":
                client.force_login(request.getfixturevalue(persona))
            made[persona] = client
        return made[persona]

    return for_persona


@pytest.fixture
def clients(client_for) -> dict[str, Client]:
    """Every persona's client, by persona name."""
    return {persona: client_for(persona) for persona in PERSONAS}


@pytest.fixture
def mocked_phare(settings):
    """Phare's API mocked over HTTP (respx), for client-level unit tests only."""
    import respx

    from tests.helpers import MOCKED_PHARE_API

    settings.PHARE_API_URL = MOCKED_PHARE_API
    settings.PHARE_TIMEOUT = 2.0
    with respx.mock(base_url=MOCKED_PHARE_API, assert_all_called=False) as router:
        yield router
