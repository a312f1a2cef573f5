from django import forms
from django.contrib import admin
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from incidents import credentials, services
from incidents.models import AuditEntry, IncidentAttempt, Membership, Monitor, PhareProject

PROJECT_FIELDS = [
    "name",
    "slug",
    "phare_project_id",
    "phare_project_slug",
    "organization_key",
    "organization",
]


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
            except ValueError as error:
                raise forms.ValidationError(str(error)) from None
        return token


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(PhareProject)
@method_decorator(sensitive_post_parameters("token"), name="changeform_view")
class PhareProjectAdmin(admin.ModelAdmin):
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

    @admin.display(description="Token")
    def token_hint(self, project: PhareProject) -> str:
        return project.token_hint

    @sensitive_variables()
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Token changes go through the use cases, which check the role and audit them.
        if form.cleaned_data.get("clear_token"):
            services.project_clear_token(actor=request.user, project=obj)
        elif form.cleaned_data.get("token"):
            services.project_set_token(
                actor=request.user, project=obj, token=form.cleaned_data["token"]
            )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Monitor)
class MonitorAdmin(ReadOnlyAdmin):
    list_display = ["name", "project", "phare_id", "status", "target", "synced_at"]
    list_filter = ["project", "status"]
    search_fields = ["name", "target"]


@admin.register(IncidentAttempt)
class IncidentAttemptAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "project", "actor", "state", "phare_incident_slug"]
    list_filter = ["project", "state"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_username", "project", "action", "outcome", "http_status"]
    list_filter = ["project", "action", "outcome"]
