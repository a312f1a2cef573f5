from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from incidents.views.system import healthz, no_view_on_site

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Django's "view on site" redirect checks only that the user is staff: it would tell any
    # staff user the address (and slug) of every project. The console does not use it.
    path("admin/r/<int:content_type_id>/<path:object_id>/", no_view_on_site),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("incidents.urls")),
]
