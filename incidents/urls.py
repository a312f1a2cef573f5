from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/<slug:slug>/", views.project_detail, name="project"),
    path("projects/<slug:slug>/incidents/", views.incident_create, name="incident_create"),
    path("projects/<slug:slug>/form/", views.incident_form_reload, name="incident_form_reload"),
    path("projects/<slug:slug>/monitors/", views.monitor_search, name="monitor_search"),
    path("projects/<slug:slug>/monitors/refresh/", views.monitor_refresh, name="monitor_refresh"),
    path(
        "projects/<slug:slug>/monitors/status/",
        views.monitor_sync_status,
        name="monitor_sync_status",
    ),
    path("projects/<slug:slug>/connection/", views.connection_check, name="connection_check"),
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/export.csv", views.audit_export, {"file_format": "csv"}, name="audit_export_csv"),
    path(
        "audit/export.jsonl",
        views.audit_export,
        {"file_format": "jsonl"},
        name="audit_export_jsonl",
    ),
    path("audit/<int:pk>/", views.audit_detail, name="audit_detail"),
]
