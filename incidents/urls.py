from django.urls import path

from incidents.views import audit, incidents, monitors, projects

app_name = "incidents"

urlpatterns = [
    path("", projects.home, name="home"),
    path("projects/<slug:slug>/", projects.project_detail, name="project_detail"),
    path(
        "projects/<slug:slug>/connection/",
        projects.project_connection_check,
        name="project_connection_check",
    ),
    path("projects/<slug:slug>/incidents/", incidents.incident_create, name="incident_create"),
    path("projects/<slug:slug>/form/", incidents.incident_form_reload, name="incident_form_reload"),
    path("projects/<slug:slug>/monitors/", monitors.monitor_search, name="monitor_search"),
    path(
        "projects/<slug:slug>/monitors/refresh/",
        monitors.monitor_sync_start,
        name="monitor_sync_start",
    ),
    path(
        "projects/<slug:slug>/monitors/status/",
        monitors.monitor_sync_status,
        name="monitor_sync_status",
    ),
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
