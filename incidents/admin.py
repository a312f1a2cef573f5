"""Django admin, held to the projects' roles: staff see and change only the projects they
manage (their admins; superusers: every one) and what belongs to them, anything else answers
404 as in the console. Every write goes through the use cases, which check the role and audit
it. The token is write-only; audit entries, attempts and monitors are read-only."""

from django import forms
from django.contrib import admin
from django.http import Http404
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from incidents import credentials, permissions, services
from incidents.models import (
    AuditEntry,
    IncidentAttempt,
    IncidentTemplate,
    Membership,
    Monitor,
    PhareProject,
)
from incidents.permissions import Capability

PROJECT_FIELDS = list(services.PROJECT_SETTINGS)


def manages(request, project: PhareProject | None) -> bool:
    """Whether the user may manage `project`; without one, whether they manage any."""
    if project is None:
        return (
            request.user.is_superuser
            or permissions.projects_where(request.user, Capability.MANAGE).exists()
        )
    return permissions.can(request.user, project, Capability.MANAGE)


class ManagedProjectsOnly(admin.ModelAdmin):
    """Rows of the projects the user manages. Django's model permissions still apply on top."""

    # The lookup from the row to its project.
    project_lookup = "project"

    def project_of(self, obj) -> PhareProject:
        return obj.project

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        managed = permissions.projects_where(request.user, Capability.MANAGE)
        return queryset.filter(**{f"{self.project_lookup}__in": managed.values("pk")})

    def get_object(self, request, object_id, from_field=None):
        # A row of another project is not found, rather than Django's redirect to the index
        # (a 302, as after a successful save).
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("Not found.")
        return obj

    def _manages(self, request, obj) -> bool:
        return manages(request, None if obj is None else self.project_of(obj))

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._manages(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._manages(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._manages(request, obj)


class PhareProjectAdminForm(forms.ModelForm):
    """The token is write-only: typed here, stored encrypted, never rendered back."""

    token = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Paste a new Phare API token to replace the stored one. Leave empty to keep it.",
    )
    clear_token = forms.BooleanField(required=False, help_text="Remove the stored token.")

    class Meta:
        model = PhareProject
        fields = PROJECT_FIELDS

    @sensitive_variables()
    def clean_token(self) -> str:
        token = self.cleaned_data["token"]
        if token:
            try:
                credentials.validate_token(token)
                credentials.check_project_named(
                    token,
                    phare_project_id=self.cleaned_data.get("phare_project_id"),
                    phare_project_slug=self.cleaned_data.get("phare_project_slug"),
                )
            except ValueError as error:
                raise forms.ValidationError(str(error)) from None
        return token


class MembershipInline(admin.StackedInline):
    """Members of the project on its page; saved by PhareProjectAdmin.save_formset. Stacked,
    with a plain user select: every control then has its own label (the tabular layout and
    the autocomplete widget leave the role select, the delete box and the user box unnamed)."""

    model = Membership
    extra = 1

    # `obj` is the project (None on the add page, which only superusers reach).
    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and manages(request, obj)

    def has_add_permission(self, request, obj):  # type: ignore[override]  # the stubs lack obj
        return super().has_add_permission(request, obj) and manages(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and manages(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and manages(request, obj)


@admin.register(PhareProject)
@method_decorator(sensitive_post_parameters("token"), name="changeform_view")
class PhareProjectAdmin(ManagedProjectsOnly):
    form = PhareProjectAdminForm
    inlines = [MembershipInline]
    list_display = ["name", "slug", "phare_project_id", "organization_key", "token_hint"]
    readonly_fields = ["token_hint", "monitors_synced_at"]
    prepopulated_fields = {"slug": ["name"]}
    fields = [
        *PROJECT_FIELDS,
        "token_hint",
        "token",
        "clear_token",
        "monitors_synced_at",
    ]
    project_lookup = "pk"

    def project_of(self, obj: PhareProject) -> PhareProject:
        return obj

    def has_add_permission(self, request):
        # Nobody manages a project before it exists (services.project_create).
        return super().has_add_permission(request) and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        # A project keeps its audit entries and attempts (they protect it from deletion).
        return False

    @admin.display(description="Token")
    def token_hint(self, project: PhareProject) -> str:
        return project.token_hint

    @sensitive_variables()
    def save_model(self, request, obj, form, change):
        # Settings, then the token, each through its use case (role checked, audited).
        if change:
            settings = {name: form.cleaned_data[name] for name in PROJECT_FIELDS}
            services.project_change(actor=request.user, project=obj, changes=settings)
        else:
            services.project_create(actor=request.user, project=obj)
        if form.cleaned_data.get("clear_token"):
            services.project_clear_token(actor=request.user, project=obj)
        elif form.cleaned_data.get("token"):
            services.project_set_token(
                actor=request.user, project=obj, token=form.cleaned_data["token"]
            )

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        project = form.instance
        stored = {
            membership.pk: membership.user
            for membership in Membership.objects.filter(project=project).select_related("user")
        }
        formset.save(commit=False)  # fills new_objects, changed_objects, deleted_objects
        leaving = [membership.pk for membership in formset.deleted_objects]
        leaving += [
            membership.pk for membership, fields in formset.changed_objects if "user" in fields
        ]
        staying = [membership for membership, _ in formset.changed_objects]
        roles = [(m.user, m.role) for m in [*staying, *formset.new_objects]]
        # Removals first, so that a row handed from one user to another never holds two; a
        # user both leaving one row and given another just changes role.
        given = {user.pk for user, _ in roles}
        changes = [
            (user, None) for user in map(stored.get, leaving) if user and user.pk not in given
        ]
        changes += roles
        # The user's own role last: stepping down first would refuse the rest of the changes.
        changes.sort(key=lambda change: change[0].pk == request.user.pk)
        for user, role in changes:
            if role is None:
                services.membership_remove(actor=request.user, project=project, user=user)
            else:
                services.membership_set(actor=request.user, project=project, user=user, role=role)


# Only the projects the user manages, as filter choices (Django's default lists every one).
PROJECT_FILTER = ("project", admin.RelatedOnlyFieldListFilter)


class ReadOnlyAdmin(ManagedProjectsOnly):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IncidentTemplate)
class IncidentTemplateAdmin(ManagedProjectsOnly):
    """Templates of the projects the user manages; written through the use cases (audited)."""

    list_display = ["name", "project", "impact", "title", "exclude_from_downtime", "updated_at"]
    list_filter = [PROJECT_FILTER, "impact"]
    search_fields = ["name", "title"]
    fields = ["project", *services.TEMPLATE_FIELDS]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and manages(request, None)

    def get_readonly_fields(self, request, obj=None):
        # A template stays in its project: its monitors are that project's.
        return ["project"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "project":
            kwargs["queryset"] = permissions.projects_where(request.user, Capability.MANAGE)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in services.TEMPLATE_FIELDS}
        if change:
            services.incident_template_change(actor=request.user, template=obj, changes=values)
        else:
            saved = services.incident_template_create(
                actor=request.user, project=obj.project, values=values
            )
            obj.pk = saved.pk

    def delete_model(self, request, obj):
        services.incident_template_delete(actor=request.user, template=obj)

    def delete_queryset(self, request, queryset):
        for template in queryset.select_related("project"):
            services.incident_template_delete(actor=request.user, template=template)


@admin.register(Monitor)
class MonitorAdmin(ReadOnlyAdmin):
    list_display = ["name", "project", "phare_id", "status", "target", "synced_at"]
    list_filter = [PROJECT_FILTER, "status"]
    search_fields = ["name", "target"]


@admin.register(IncidentAttempt)
class IncidentAttemptAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "project", "actor", "state", "phare_incident_slug"]
    list_filter = [PROJECT_FILTER, "state"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_username", "project", "action", "outcome", "http_status"]
    list_filter = [PROJECT_FILTER, "action", "outcome"]
