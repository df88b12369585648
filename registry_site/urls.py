from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from artifacts import views as artifact_views

urlpatterns = [
    # First: the SDK's requests, most of all requests, find their view without walking the pages' patterns.
    path("", include("wandb_api.urls")),
    path("", artifact_views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", artifact_views.profile, name="profile"),
    path("profile/keys/<int:key_id>/revoke", artifact_views.api_key_revoke, name="api_key_revoke"),
    path("", include("registry.urls")),
    # Last: `/<entity>/<project>` shares the URL root with everything above.
    path("", include("artifacts.urls")),
]

# A fault of the machinery raised outside a view still answers with its reason (registry_site/faults.py).
handler500 = "registry_site.faults.server_error"
