from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import models
from django.urls import reverse
from django.utils import timezone

MAX_TEMPLATE_NAME = 80  # an incident template's name
STATUS_RANK = {"offline": 0, "partial": 1, "fetching": 2, "online": 3, "paused": 4}
# A monitor refresh whose heartbeat is older than this died with its process; longer than the
# longest wait for the rate budget between two pages (incidents.phare.client.SYNC_PAGE_MAX_WAIT).
SYNC_LEASE = timedelta(minutes=5)


class Impact(models.TextChoices):
    """Phare's incident impact levels, with the labels the on-call staff read."""

    UNKNOWN = "unknown", "Unknown"
    OPERATIONAL = "operational", "Operational"
    DEGRADED_PERFORMANCE = "degraded_performance", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"
    MAINTENANCE = "maintenance", "Maintenance"


class PhareProject(models.Model):
    """A Phare project as the console knows it, with its API token encrypted at rest.

    The token is never stored in plain text and never decrypted on load: see
    incidents.credentials for the only way to set and reveal it.
    """

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    phare_project_id = models.PositiveBigIntegerField(null=True, blank=True)
    phare_project_slug = models.CharField(max_length=100, blank=True, validators=[validate_slug])
    organization_key = models.BooleanField(
        default=False,
        help_text="The token is organization-scoped: every call names this project in a header.",
    )
    organization = models.CharField(
        max_length=100,
        blank=True,
        help_text="The Phare organization. Projects of one organization share Phare's limit of "
        "100 calls a minute; empty: each token counts as its own organization.",
    )
    token_ciphertext = models.TextField(blank=True, editable=False)
    token_last4 = models.CharField(max_length=4, blank=True, editable=False)
    # A one-way digest, so projects sharing a token share a rate budget without the token.
    token_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    monitors_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set while a refresh of the monitor list runs: a lease, so only one runs at a time,
    # renewed by its heartbeat on every page.
    monitors_sync_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    monitors_sync_heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    monitors_sync_progress = models.CharField(max_length=200, blank=True, editable=False)
    monitors_sync_error = models.TextField(blank=True, editable=False)
    monitors_sync_failed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The copy of the project's incidents (PhareIncident): when its parts were last read, and a
    # lease so one process at a time refreshes it.
    incidents_first_page_read_at = models.DateTimeField(null=True, blank=True, editable=False)
    incidents_read_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Every page of Phare's list read."
    )
    incidents_refresh_error = models.TextField(blank=True, editable=False)
    incidents_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("incidents:project_detail", kwargs={"slug": self.slug})

    def clean(self) -> None:
        if self.phare_project_id or self.phare_project_slug:
            return
        if self.organization_key:
            raise ValidationError(
                "An organization-scoped token needs the Phare project id or slug to send."
            )
        from incidents import credentials  # credentials imports this module

        if credentials.stored_token_is_organization_scoped(self):
            # Its prefix says so, as Phare's Terraform provider reads it.
            raise ValidationError(
                "An organization-scoped token needs the Phare project id or slug to send: the "
                "stored token starts with pha_org_."
            )

    @property
    def has_token(self) -> bool:
        return bool(self.token_ciphertext)

    @property
    def monitors_syncing(self) -> bool:
        heartbeat = self.monitors_sync_heartbeat_at
        return (
            self.monitors_sync_started_at is not None
            and heartbeat is not None
            and timezone.now() - heartbeat < SYNC_LEASE
        )

    @property
    def rate_limit_key(self) -> str:
        if self.organization:
            return f"org:{self.organization}"
        return f"token:{self.token_fingerprint or self.pk}"

    @property
    def token_hint(self) -> str:
        return f"…{self.token_last4}" if self.token_last4 else "not set"


class Membership(models.Model):
    """A user's role in one project: viewer < responder < admin."""

    class Role(models.TextChoices):
        VIEWER = "viewer", "Viewer (sees incidents and the audit log)"
        RESPONDER = "responder", "Responder (also creates incidents)"
        ADMIN = "admin", "Admin (also manages the token and members)"

    project = models.ForeignKey(PhareProject, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="phare_memberships"
    )
    role = models.CharField(max_length=10, choices=Role, default=Role.VIEWER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_role_per_project")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"


class Monitor(models.Model):
    """The console's copy of one Phare monitor, so the picker searches locally."""

    project = models.ForeignKey(PhareProject, on_delete=models.CASCADE, related_name="monitors")
    phare_id = models.PositiveBigIntegerField()
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=20, blank=True)
    paused = models.BooleanField(default=False)
    protocol = models.CharField(max_length=10, blank=True)
    target = models.CharField(max_length=2048, blank=True, help_text="URL, or host:port")
    last_checked_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField()
    # Lowercased copies for the picker's search: matching them needs no function per row.
    search_name = models.CharField(max_length=255, blank=True, editable=False)
    search_target = models.CharField(max_length=2048, blank=True, editable=False)
    # Broken monitors first: the one someone is declaring an incident about is likely there.
    status_rank = models.PositiveSmallIntegerField(default=len(STATUS_RANK), editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "phare_id"], name="unique_monitor_per_project"
            )
        ]
        # The picker's unfiltered list, in its order, straight from the index.
        indexes = [models.Index(fields=["project", "status_rank", "name"])]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.fill_search_fields()
        super().save(*args, **kwargs)

    def fill_search_fields(self) -> None:
        self.search_name, self.search_target = self.name.lower(), self.target.lower()
        self.status_rank = STATUS_RANK.get(self.status, len(STATUS_RANK))


INCIDENT_STATUS_RANK = {"ongoing": 0, "recovering": 0, "recovered": 1}


class PhareIncident(models.Model):
    """The console's copy of one Phare incident, shared by every app server: pages read it and
    never call Phare per viewer; a background refresh keeps it current."""

    project = models.ForeignKey(PhareProject, on_delete=models.CASCADE, related_name="incidents")
    phare_id = models.PositiveBigIntegerField()
    slug = models.CharField(max_length=100, blank=True)
    type = models.CharField(max_length=20, blank=True, help_text="manual or monitor")
    title = models.CharField(max_length=250)
    impact = models.CharField(max_length=30, blank=True)
    status = models.CharField(max_length=20, blank=True)
    state = models.CharField(max_length=20, blank=True)
    description = models.TextField(blank=True)
    exclude_from_downtime = models.BooleanField(default=False)
    monitors = models.JSONField(default=list)
    # ",12,40," for the monitor filter: a JSON containment lookup SQLite does not have.
    monitor_ids_text = models.TextField(blank=True, editable=False)
    incident_at = models.DateTimeField(null=True, blank=True)
    recovery_at = models.DateTimeField(null=True, blank=True)
    phare_created_at = models.DateTimeField(null=True, blank=True)
    phare_updated_at = models.DateTimeField(null=True, blank=True)
    # Ongoing (and recovering) first, then the newest: the list's order, from an index.
    status_rank = models.PositiveSmallIntegerField(default=0, editable=False)
    started_at = models.DateTimeField(editable=False, help_text="incident_at, else created_at")
    read_at = models.DateTimeField(help_text="When Phare last described it to the console.")
    timeline_read_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_in_phare_at = models.DateTimeField(null=True, blank=True)
    changed_outside_at = models.DateTimeField(null=True, blank=True)
    changed_outside_summary = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "phare_id"], name="unique_incident_per_project"
            )
        ]
        indexes = [
            models.Index(
                fields=["project", "status_rank", "-started_at", "-phare_id"],
                name="incident_list_order",
            )
        ]
        ordering = ["status_rank", "-started_at", "-phare_id"]

    def __str__(self) -> str:
        return f"{self.slug or self.phare_id} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse(
            "incidents:incident_detail",
            kwargs={"slug": self.project.slug, "incident_id": self.phare_id},
        )

    def fill_derived_fields(self) -> None:
        self.status_rank = INCIDENT_STATUS_RANK.get(self.status, 0)
        self.started_at = self.incident_at or self.phare_created_at or self.read_at
        self.monitor_ids_text = "".join(f",{monitor_id}" for monitor_id in self.monitors) + ","

    @property
    def impact_label(self) -> str:
        return Impact(self.impact).label if self.impact in Impact.values else self.impact

    @property
    def is_recovered(self) -> bool:
        return self.status == "recovered"


class PhareIncidentUpdate(models.Model):
    """The console's copy of one update on an incident's timeline."""

    incident = models.ForeignKey(PhareIncident, on_delete=models.CASCADE, related_name="updates")
    phare_id = models.PositiveBigIntegerField()
    state = models.CharField(max_length=20)
    content = models.TextField()
    published_at = models.DateTimeField(null=True, blank=True)
    phare_created_at = models.DateTimeField(null=True, blank=True)
    creator_type = models.CharField(max_length=20, blank=True)
    creator_label = models.CharField(max_length=255, blank=True)
    # Who pressed Post update, when it came through the console.
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "phare_id"], name="unique_update_per_incident"
            )
        ]
        ordering = ["-published_at", "-phare_id"]

    def __str__(self) -> str:
        return f"{self.state}: {self.content[:50]}"

    @property
    def author(self) -> str:
        if self.posted_by is not None:
            return self.posted_by.get_username()
        return self.creator_label or "Phare"


class IncidentAttempt(models.Model):
    """One submission of a write to Phare (create, edit, post an update, recover, delete):
    claimed before Phare is called, then settled.

    The submission key is unique, so the same form submitted twice (double click, retry,
    second tab) maps to one attempt and never to a second call to Phare.
    """

    class Kind(models.TextChoices):
        CREATE = "create", "Create"
        EDIT = "edit", "Edit"
        UPDATE_CREATE = "update_create", "Post update"
        RECOVER = "recover", "Mark recovered"
        DELETE = "delete", "Delete"

    class State(models.TextChoices):
        SENDING = "sending", "Sending"
        CREATED = "created", "Created"
        DONE = "done", "Done"
        REJECTED = "rejected", "Rejected by Phare"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown outcome"

    submission_key = models.UUIDField(unique=True)
    kind = models.CharField(max_length=20, choices=Kind, default=Kind.CREATE)
    # The incident's title when the payload has none (an update, a recovery, a deletion).
    incident_title = models.CharField(max_length=250, blank=True)
    project = models.ForeignKey(PhareProject, on_delete=models.PROTECT, related_name="attempts")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    payload = models.JSONField(help_text="The body first sent with this key; never changed.")
    resent_payloads = models.JSONField(
        default=list,
        blank=True,
        help_text="Bodies sent later with the same key that differ from the one before "
        "(a retry by someone who changed the form), oldest first.",
    )
    state = models.CharField(max_length=10, choices=State, default=State.SENDING)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    phare_incident_id = models.PositiveBigIntegerField(null=True, blank=True)
    phare_incident_slug = models.CharField(max_length=100, blank=True)
    phare_incident_at = models.DateTimeField(
        null=True, blank=True, help_text="When the incident started, as Phare recorded it."
    )
    error = models.TextField(blank=True)
    found_in_phare = models.BooleanField(
        default=False, help_text="Settled by finding the incident in Phare after a failed answer."
    )
    sends = models.PositiveSmallIntegerField(
        default=1, help_text="Times sent to Phare: a retry with the same key sends again."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The incident template the create form was filled from (its name then), if any.
    template_name = models.CharField(max_length=MAX_TEMPLATE_NAME, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "state", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_state_display()})"

    @property
    def sent_payloads(self) -> list[dict]:
        """Every body sent with this key, first to last: an unclear answer to any of them may
        have done the write."""
        return [self.payload, *self.resent_payloads]

    @property
    def last_payload(self) -> dict:
        return self.resent_payloads[-1] if self.resent_payloads else self.payload

    @property
    def title(self) -> str:
        return self.last_payload.get("title") or self.incident_title

    @property
    def impact_label(self) -> str:
        impact = self.last_payload.get("impact", "")
        return Impact(impact).label if impact in Impact.values else impact


class IncidentTemplate(models.Model):
    """A ready-made incident of a project (impact, title, description, monitors, exclude from
    downtime) that fills the create form in one press; everything stays editable there.

    Written through services.incident_template_* (project admins, audited)."""

    project = models.ForeignKey(
        PhareProject, on_delete=models.CASCADE, related_name="incident_templates"
    )
    name = models.CharField(max_length=MAX_TEMPLATE_NAME)
    impact = models.CharField(max_length=30, choices=Impact)
    title = models.CharField(max_length=250)
    description = models.TextField(max_length=2000, blank=True)
    monitors = models.JSONField(
        default=list, blank=True, help_text="Phare ids of the project's monitors, in order."
    )
    exclude_from_downtime = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                name="unique_incident_template_name",
                violation_error_message="This project already has a template with this name.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.name = " ".join(self.name.split())
        if not self.name:
            raise ValidationError({"name": "Give the template a name."})
        if "\x00" in self.name + self.title + self.description:
            raise ValidationError("Text cannot contain NUL characters.")
        if (
            self.project_id is not None
            and IncidentTemplate.objects.filter(project_id=self.project_id, name__iexact=self.name)
            .exclude(pk=self.pk)
            .exists()
        ):
            # Links name templates case-insensitively (incidents.incident_prefill).
            raise ValidationError(
                {"name": "This project already has a template with this name (in any case)."}
            )
        monitors = self.monitors
        if not isinstance(monitors, list) or not all(
            type(item) is int and 0 < item <= 2**63 - 1 for item in monitors
        ):
            raise ValidationError({"monitors": "Monitors are a list of Phare monitor ids."})
        if len(monitors) > 100:
            raise ValidationError({"monitors": "At most 100 monitors (Phare's limit)."})
        if len(set(monitors)) != len(monitors):
            raise ValidationError({"monitors": "Each monitor once."})
        if self.project_id is not None and monitors:
            known = set(
                Monitor.objects.filter(
                    project_id=self.project_id, phare_id__in=monitors
                ).values_list("phare_id", flat=True)
            )
            if unknown := [str(item) for item in monitors if item not in known]:
                raise ValidationError(
                    {
                        "monitors": "These monitors are not in the project's list: "
                        f"{', '.join(unknown)}. Refresh the monitors and pick again."
                    }
                )

    def values(self) -> dict:
        """What the template fills in, as the audit entries record it."""
        return {
            "name": self.name,
            "impact": self.impact,
            "title": self.title,
            "description": self.description,
            "monitors": list(self.monitors),
            "exclude_from_downtime": self.exclude_from_downtime,
        }


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Audit entries are append-only.")

    def delete(self):
        raise TypeError("Audit entries are append-only.")


class AuditEntry(models.Model):
    """An append-only record of something that happened: written once, never changed."""

    class Action(models.TextChoices):
        INCIDENT_CREATE_STARTED = "incident.create.started", "Create incident: sent"
        INCIDENT_CREATE_FINISHED = "incident.create.finished", "Create incident: answered"
        INCIDENT_CREATE_RECONCILED = "incident.create.reconciled", "Create incident: looked up"
        INCIDENT_EDIT_STARTED = "incident.edit.started", "Edit incident: sent"
        INCIDENT_EDITED = "incident.edited", "Edit incident: answered"
        INCIDENT_EDIT_RECONCILED = "incident.edit.reconciled", "Edit incident: looked up"
        INCIDENT_UPDATE_STARTED = "incident.update_post.started", "Post update: sent"
        INCIDENT_UPDATE_POSTED = "incident.update_posted", "Post update: answered"
        INCIDENT_UPDATE_RECONCILED = "incident.update_post.reconciled", "Post update: looked up"
        INCIDENT_RECOVER_STARTED = "incident.recover.started", "Mark recovered: sent"
        INCIDENT_RECOVERED = "incident.recovered", "Mark recovered: answered"
        INCIDENT_RECOVER_RECONCILED = "incident.recover.reconciled", "Mark recovered: looked up"
        INCIDENT_DELETE_STARTED = "incident.delete.started", "Delete incident: sent"
        INCIDENT_DELETED = "incident.deleted", "Delete incident: answered"
        INCIDENT_DELETE_RECONCILED = "incident.delete.reconciled", "Delete incident: looked up"
        INCIDENT_CHANGED_OUTSIDE = "incident.changed_outside", "Changed in Phare"
        CREDENTIAL_SET = "credential.set", "Token set"
        CREDENTIAL_CLEARED = "credential.cleared", "Token cleared"
        MEMBERSHIP_SET = "membership.set", "Member's role set"
        MEMBERSHIP_REMOVED = "membership.removed", "Member removed"
        PROJECT_CHANGED = "project.changed", "Project settings changed"
        INCIDENT_TEMPLATE_SAVED = "incident_template.saved", "Incident template saved"
        INCIDENT_TEMPLATE_DELETED = "incident_template.deleted", "Incident template deleted"

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        CREATED = "created", "Created"
        DONE = "done", "Done"
        REJECTED = "rejected", "Rejected by Phare"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown outcome"
        RECORDED = "recorded", "Recorded"
        NOT_FOUND = "not_found", "Not found in Phare"

    created_at = models.DateTimeField(default=timezone.now)
    # No database constraint and nothing done on delete: removing a user must not rewrite the
    # log (the trigger refuses UPDATE); actor_username keeps who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Kept as text too, so the entry still says who acted after the user is deleted.
    actor_username = models.CharField(max_length=150)
    project = models.ForeignKey(
        PhareProject, on_delete=models.PROTECT, related_name="audit_entries"
    )
    attempt = models.ForeignKey(
        IncidentAttempt, null=True, on_delete=models.PROTECT, related_name="audit_entries"
    )
    action = models.CharField(max_length=40, choices=Action)
    outcome = models.CharField(max_length=10, choices=Outcome)
    payload = models.JSONField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    phare_incident_id = models.PositiveBigIntegerField(null=True, blank=True)
    phare_incident_slug = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # The incident's title, beside the payload, so that searching it can use an index.
    title = models.CharField(max_length=250, blank=True)
    # The incident template a create was filled from; in the chain only when set, so entries
    # written before this field existed still verify.
    template_name = models.CharField(max_length=MAX_TEMPLATE_NAME, blank=True)
    # Tamper evidence (incidents.audit_chain): an HMAC (AUDIT_CHAIN_KEY) over this entry's
    # content and the previous entry's MAC, computed when it is written.
    previous_hash = models.CharField(max_length=64, editable=False, default="")
    entry_hash = models.CharField(max_length=64, editable=False, default="")

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        # Newest first; the pages walk this order with a cursor (keyset), never OFFSET.
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="audit_newest"),
            models.Index(fields=["project", "-created_at", "-id"], name="audit_project"),
            models.Index(fields=["actor_username", "-created_at", "-id"], name="audit_actor"),
            models.Index(fields=["action", "-created_at", "-id"], name="audit_action"),
            models.Index(fields=["outcome", "-created_at", "-id"], name="audit_outcome"),
            models.Index(fields=["phare_incident_slug"], name="audit_slug"),
            models.Index(
                fields=["project", "phare_incident_id", "-created_at", "-id"],
                name="audit_incident",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_username}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("incidents:audit_detail", kwargs={"pk": self.pk})

    def delete(self, *args, **kwargs):
        raise TypeError("Audit entries are append-only.")


class RateLimitBucket(models.Model):
    """The shared budget of calls to Phare for one organization (see incidents.ratelimit)."""

    key = models.CharField(max_length=100, unique=True)
    blocked_until = models.FloatField(default=0, help_text="Epoch seconds; set after a 429.")

    def __str__(self) -> str:
        return self.key


class RateLimitCall(models.Model):
    bucket = models.ForeignKey(RateLimitBucket, on_delete=models.CASCADE, related_name="calls")
    at = models.FloatField(help_text="Epoch seconds")

    class Meta:
        indexes = [models.Index(fields=["bucket", "at"])]

    def __str__(self) -> str:
        return f"{self.bucket_id} @ {self.at}"
