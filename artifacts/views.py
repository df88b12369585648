from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from artifacts import queries, services
from artifacts.forms import ApiKeyForm
from artifacts.models import ApiKey
from registry_site.htmx import HtmxHttpRequest


def site_url(request: HtmxHttpRequest) -> str:
    """The address clients should use for this server (WANDB_BASE_URL)."""
    return settings.SITE_URL or request.build_absolute_uri("/").rstrip("/")


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    projects = queries.visible_projects(request.user)
    return render(request, "artifacts/home.html", {"projects": projects})


@require_GET
def project_detail(request: HtmxHttpRequest, entity: str, project: str) -> HttpResponse:
    project = queries.project_for_user(request.user, entity, project)
    return render(
        request,
        "artifacts/project_detail.html",
        {
            "project": project,
            "runs": queries.runs_of(project),
            "artifacts": queries.artifacts_of(project),
        },
    )


@require_GET
def run_detail(request: HtmxHttpRequest, entity: str, project: str, run_id: str) -> HttpResponse:
    run = queries.run_for_user(request.user, entity, project, run_id)
    return render(
        request,
        "artifacts/run_detail.html",
        {
            "run": run,
            "project": run.project,
            "logged": queries.versions_logged_by(run),
            "used": queries.versions_used_by(request.user, run),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HtmxHttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _, secret = services.api_key_create(user=request.user, name=form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_error("name", exc)
        else:
            # Shown on the next page only (POST-redirect-GET, so a reload cannot create a second key).
            request.session["new_api_key"] = secret
            return redirect("profile")
    new_secret = request.session.pop("new_api_key", None) if request.method == "GET" else None
    return render(
        request,
        "accounts/profile.html",
        {
            "form": form,
            "keys": queries.api_keys_of(request.user),
            "new_secret": new_secret,
            "site_url": site_url(request),
            "memberships": request.user.memberships.select_related("entity"),
        },
    )


@login_required
@require_POST
def api_key_revoke(request: HtmxHttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=key_id, user=request.user)
    services.api_key_revoke(key=key, user=request.user)
    return redirect("profile")
