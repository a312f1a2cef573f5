from django.urls import path

from incidents.views import (
    audit,
    incident_preview,
    incident_templates,
    incident_updates,
    incidents,
    monitors,
    projects,
)

app_name = "incidents"

project = "projects/<slug:slug>/"
incident = project + "incidents/<int:incident_id>/"

urlpatterns = [
    path("", projects.home, name="home"),
    path(project, projects.project_detail, name="project_detail"),
    path(
        project + "connection/",
        projects.project_connection_check,
        name="project_connection_check",
    ),
    # The create form posts to incident_create; pages served before the list existed post to
    # the list's address, which hands the form to incident_create.
    path(project + "incidents/", incidents.incident_list, name="incident_list"),
    path(project + "incidents/new/", incidents.incident_create, name="incident_create"),
    path(
        project + "incidents/preview/",
        incident_preview.incident_preview,
        name="incident_preview",
    ),
    path(
        project + "incidents/refresh/",
        incidents.incident_list_refresh_start,
        name="incident_list_refresh_start",
    ),
    path(incident, incidents.incident_detail, name="incident_detail"),
    path(incident + "edit/", incidents.incident_edit, name="incident_edit"),
    path(
        incident + "updates/",
        incident_updates.incident_update_create,
        name="incident_update_create",
    ),
    path(incident + "recover/", incidents.incident_recover, name="incident_recover"),
    path(incident + "delete/", incidents.incident_delete, name="incident_delete"),
    path(project + "form/", incidents.incident_form_reload, name="incident_form_reload"),
    # A project's incident templates (its admins); a template fills the create form through
    # incident_create's GET (?template=name).
    path(
        project + "templates/",
        incident_templates.incident_template_list,
        name="incident_template_list",
    ),
    path(
        project + "templates/new/",
        incident_templates.incident_template_create,
        name="incident_template_create",
    ),
    path(
        project + "templates/<int:template_id>/",
        incident_templates.incident_template_change,
        name="incident_template_change",
    ),
    path(
        project + "templates/<int:template_id>/delete/",
        incident_templates.incident_template_delete,
        name="incident_template_delete",
    ),
    path(project + "monitors/", monitors.monitor_search, name="monitor_search"),
    path(project + "monitors/refresh/", monitors.monitor_sync_start, name="monitor_sync_start"),
    path(project + "monitors/status/", monitors.monitor_sync_status, name="monitor_sync_status"),
    path("audit/", audit.audit_list, name="audit_list"),
    path("audit/export.csv", audit.audit_export, {"file_format": "csv"}, name="audit_export_csv"),
    path(
        "audit/export.jsonl",
        audit.audit_export,
        {"file_format": "jsonl"},
        name="audit_export_jsonl",
    ),
    path("audit/<int:pk>/", audit.audit_detail, name="audit_detail"),
]
