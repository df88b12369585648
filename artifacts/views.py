import functools
from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, push_url, reswap, retarget, trigger_client_event

from artifacts import compare, lineage, names, permissions, queries, services
from artifacts.downloads import stream_blob
from artifacts.forms import ApiKeyForm
from artifacts.models import ApiKey
from artifacts.panel import TAB_NAMES, AliasChip, Panel, build_panel, wandb_tab
from artifacts.templatetags.artifact_tags import humansize
from registry_site.htmx import HtmxHttpRequest, wants_fragment


def site_url(request: HtmxHttpRequest) -> str:
    """The address clients should use for this server (WANDB_BASE_URL)."""
    return settings.SITE_URL or request.build_absolute_uri("/").rstrip("/")


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    projects = queries.visible_projects(request.user)
    return render(request, "artifacts/home.html", {"projects": projects})


@require_GET
def entity_detail(request: HtmxHttpRequest, entity: str) -> HttpResponse:
    entity = queries.entity_for_user(request.user, entity)
    page = queries.CappedPaginator(queries.projects_of(request.user, entity), queries.PROJECTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "artifacts/entity_detail.html", {"entity": entity, "page": page})


@require_GET
@vary_on_headers("HX-Request", "HX-Target")
def run_list(request: HtmxHttpRequest, entity: str, project: str) -> HttpResponse:
    """The project's runs, newest first, 50 a page; the pager swaps only the table."""
    project = queries.project_for_user(request.user, entity, project)
    page = queries.CappedPaginator(queries.runs_of(project), queries.RUNS_PER_PAGE).get_page(request.GET.get("page"))
    template = "artifacts/run_list.html"
    if wants_fragment(request) and request.htmx.target == "run-table":
        template += "#run-table"
    return render(request, template, {"project": project, "page": page})


@require_GET
def project_detail(request: HtmxHttpRequest, entity: str, project: str) -> HttpResponse:
    """The overview: the newest runs and artifacts; the runs page and the Artifact browser page through all."""
    project = queries.project_for_user(request.user, entity, project)
    return render(
        request,
        "artifacts/project_detail.html",
        {
            "project": project,
            "runs": queries.runs_of(project)[:OVERVIEW_ROWS],
            "num_runs": project.runs.count(),
            "artifacts": queries.artifacts_of(project)[:OVERVIEW_ROWS],
            "num_artifacts": project.artifacts.count(),
        },
    )


OVERVIEW_ROWS = 10


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


PANEL_TEMPLATE = "artifacts/_version_panel.html"
# Regions of the version panel that refresh themselves (their DOM id is their partial name).
PANEL_PARTIALS = {"version-aliases", "linked-to", "version-description"}


def _browser_sections(request: HtmxHttpRequest, project, artifact=None) -> list[dict]:
    """Artifact types as sections, each paged by itself (`?type=<t>&page=N` pages that type); the selected
    artifact's type opens at the page that holds it."""
    open_type = artifact.type if artifact else "model"
    search = _search(request)
    sections = []
    for row in queries.artifact_types(project, search):
        qs = queries.artifacts_of_type(project, row["type"], search)
        if request.GET.get("type") == row["type"]:
            number = request.GET.get("page")
        elif artifact is not None and row["type"] == artifact.type:
            number = qs.filter(name__lt=artifact.name).count() // queries.ARTIFACTS_PER_PAGE + 1
        else:
            number = 1
        page = queries.CappedPaginator(qs, queries.ARTIFACTS_PER_PAGE).get_page(number)
        sections.append(
            {
                "type": row["type"],
                "count": row["num_artifacts"],
                "open": row["type"] == open_type or request.GET.get("type") == row["type"],
                "page": page,
            }
        )
    if sections and not any(s["open"] for s in sections):
        sections[0]["open"] = True
    return sections


def _search(request: HtmxHttpRequest) -> str:
    """The Artifact browser's search (`?q=`): artifact names and version tags."""
    return request.GET.get("q", "").strip()[:128]


def _render_browser(request: HtmxHttpRequest, context: dict) -> HttpResponse:
    template = "artifacts/artifact_browse.html"
    if wants_fragment(request):
        target = request.htmx.target
        if target in PANEL_PARTIALS and "panel" in context:
            return render(request, f"{PANEL_TEMPLATE}#{target}", context)
        template += "#detail-panel" if target == "detail-panel" else "#artifact-browser"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _browser_context(request: HtmxHttpRequest, project, artifact=None, version=None) -> dict:
    return {
        "project": project,
        "sections": _browser_sections(request, project, artifact),
        "search": _search(request),
        "selected_artifact": artifact,
        "selected_versions": queries.version_labels(artifact)[: queries.VERSIONS_PER_PAGE] if artifact else [],
        "selected_version": version,
        "selected_count": artifact.num_versions if artifact else 0,
        "linked_collections": queries.linked_collections(project),
    }


def _versions_page(request: HtmxHttpRequest, artifact, number):
    page = queries.CountedPaginator(
        queries.versions_of(artifact), queries.VERSIONS_PER_PAGE, artifact.num_versions
    ).get_page(number)
    queries.with_visible_links(request.user, page)
    return page


@require_GET
def artifact_browse(request: HtmxHttpRequest, entity: str, project: str) -> HttpResponse:
    project = queries.project_for_user(request.user, entity, project)
    return _render_browser(request, _browser_context(request, project))


@require_GET
def artifact_detail(request: HtmxHttpRequest, entity: str, project: str, type: str, name: str) -> HttpResponse:
    artifact = queries.artifact_for_user(request.user, entity, project, type, name)
    context = _browser_context(request, artifact.project, artifact)
    context["versions_page"] = _versions_page(request, artifact, request.GET.get("vpage"))
    return _render_browser(request, context)


def artifact_panel(request: HtmxHttpRequest, version, tab: str) -> Panel:
    """The version panel as the Artifact browser shows it: Linked To, Link to registry, artifact aliases."""
    entity = version.artifact.project.entity
    can = permissions.can_change(request.user, entity)
    args = version._args()
    aliases = [
        AliasChip(
            a.name,
            remove_url=reverse("artifacts:version_alias_remove", args=[*args, a.name])
            if can and a.name != names.LATEST
            else None,
        )
        for a in queries.version_aliases(version)
    ]
    return Panel(
        version=version,
        tab=tab,
        full_name=version.full_name,
        tab_url=version.tab_url,
        aliases=aliases,
        alias_add_url=reverse("artifacts:version_alias_add", args=args) if can else None,
        links=queries.version_links(request.user, version),
        link_to_registry_url=reverse("registry:link_to_registry", args=args)
        # Models go to the team's Model Registry; any type may go to a registry of the team's organization.
        if can and (version.artifact.is_model or entity.organization_id is not None)
        else None,
        description_url=reverse("artifacts:version_description", args=args) if can else None,
        delete_url=reverse("artifacts:version_delete", args=args) if can else None,
        can_change=can,
        depth=lineage.parse_depth(request.GET.get("depth")),
        events=functools.partial(queries.events_of_version, version),
    )


@require_GET
def version_detail(
    request: HtmxHttpRequest, entity: str, project: str, type: str, name: str, index: int, tab: str = "version"
) -> HttpResponse:
    version = queries.version_for_user(request.user, entity, project, type, name, index)
    if ours := wandb_tab(tab):
        return _redirect_keeping_query(request, version.tab_url(ours))
    panel = artifact_panel(request, version, tab)
    context = _browser_context(request, version.artifact.project, version.artifact, version)
    context.update(build_panel(request.user, panel, site_url(request)))
    return _render_browser(request, context)


def _redirect_keeping_query(request: HtmxHttpRequest, url: str) -> HttpResponse:
    query = request.GET.urlencode()
    return redirect(f"{url}?{query}" if query else url)


@require_GET
def version_by_alias(
    request: HtmxHttpRequest, entity: str, project: str, type: str, name: str, alias: str, tab: str = "version"
) -> HttpResponse:
    """W&B's `.../<name>/<alias>[/<tab>]` (`latest`, `production`): a redirect to the version's own `vN` URL,
    which stays put when the alias moves on."""
    version = queries.version_by_alias_for_user(request.user, entity, project, type, name, alias)
    tab = wandb_tab(tab) or tab
    if tab not in TAB_NAMES:
        raise Http404("No such tab.")
    return _redirect_keeping_query(request, version.get_absolute_url() if tab == "version" else version.tab_url(tab))


@require_GET
def version_file_download(
    request: HtmxHttpRequest, entity: str, project: str, type: str, name: str, index: int, path: str
) -> HttpResponse:
    version = queries.version_for_user(request.user, entity, project, type, name, index)
    # Only a path stored in this version resolves: nothing else is reachable by editing the URL.
    file = get_object_or_404(queries.version_files(version), path=path)
    return stream_blob(request, file.blob, filename=path.rsplit("/", 1)[-1])


def _panel_region(request: HtmxHttpRequest, version, region: str, error: str | None = None) -> HttpResponse:
    """After a change: the changed region for htmx, else back to the version page."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(version.get_absolute_url())
    panel = artifact_panel(request, version, "version")
    context = build_panel(request.user, panel, site_url(request))
    context[f"{region.replace('-', '_')}_error"] = error
    response = render(request, f"{PANEL_TEMPLATE}#{region}", context)
    if region == "version-aliases" and not error:
        trigger_client_event(response, "aliasesChanged")
    return response


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@require_POST
def version_alias_add(
    request: HtmxHttpRequest, entity: str, project: str, type: str, name: str, index: int
) -> HttpResponse:
    version = queries.version_for_user(request.user, entity, project, type, name, index)
    try:
        services.alias_set(version=version, name=request.POST.get("alias", "").strip(), user=request.user)
    except ValidationError as exc:
        return _panel_region(request, version, "version-aliases", _error_text(exc))
    return _panel_region(request, version, "version-aliases")


@require_POST
def version_alias_remove(
    request: HtmxHttpRequest, entity: str, project: str, type: str, name: str, index: int, alias: str
) -> HttpResponse:
    version = queries.version_for_user(request.user, entity, project, type, name, index)
    try:
        services.alias_remove(version=version, name=alias, user=request.user)
    except ValidationError as exc:
        return _panel_region(request, version, "version-aliases", _error_text(exc))
    return _panel_region(request, version, "version-aliases")


@require_POST
def version_description(
    request: HtmxHttpRequest, entity: str, project: str, type: str, name: str, index: int
) -> HttpResponse:
    version = queries.version_for_user(request.user, entity, project, type, name, index)
    try:
        services.version_update(version=version, user=request.user, description=request.POST.get("description", ""))
    except ValidationError as exc:
        return _panel_region(request, version, "version-description", _error_text(exc))
    return _panel_region(request, version, "version-description")


@require_http_methods(["GET", "POST"])
def version_delete(
    request: HtmxHttpRequest, entity: str, project: str, type: str, name: str, index: int
) -> HttpResponse:
    """GET: the confirmation, saying why not when the version is linked or what goes with it (its aliases);
    POST: delete (with `delete_aliases` ticked when it holds aliases)."""
    version = queries.version_for_user(request.user, entity, project, type, name, index)
    artifact = version.artifact
    permissions.require_change_project(request.user, artifact.project)
    errors: list[str] = []
    if request.method == "POST":
        try:
            services.version_delete(
                version=version, user=request.user, delete_aliases=bool(request.POST.get("delete_aliases"))
            )
        except ValidationError as exc:
            errors = exc.messages
        else:
            return _version_deleted(request, version)
    links = queries.version_links(request.user, version)
    aliases = services.version_aliases_to_delete(version)
    label = f"{artifact.name}:{version.label}"
    confirm = {
        "title": f"Delete {label}?",
        "action": reverse("artifacts:version_delete", args=version._args()),
        "cancel_url": version.get_absolute_url(),
        "button": "Delete version",
        "body": [
            f"This deletes {version.full_name} ({version.num_files} file{'' if version.num_files == 1 else 's'}, "
            f"{humansize(version.size)}). Its number is never reused: the next version logged is "
            f"v{artifact.next_index}.",
            "Bytes no other version holds are removed from storage by the next garbage collection "
            "(manage.py collect_garbage).",
        ],
    }
    if links:
        confirm["button"] = None
        confirm["body"] = [
            f"{label} cannot be deleted: it is linked as the versions below. Unlink it there first "
            "(Unlink version in the version's ⋯ menu), then delete it here."
        ]
        confirm["links"] = [{"label": lk.short_name, "url": lk.get_absolute_url()} for lk in links]
    elif aliases:
        confirm["body"].insert(1, f"{label} holds the alias{'es' if len(aliases) > 1 else ''} {', '.join(aliases)}.")
        confirm["checkbox"] = {"name": "delete_aliases", "label": f"Also remove {', '.join(aliases)}"}
    return render_modal(request, "confirm_modal.html", {"confirm": confirm, "errors": errors}, "confirm")


def render_modal(request: HtmxHttpRequest, template: str, context: dict, prefix: str) -> HttpResponse:
    """A GET from htmx gets the dialog, a POST from htmx the form inside it, anything else the whole page."""
    if wants_fragment(request):
        template += f"#{prefix}-dialog" if request.method == "GET" else f"#{prefix}-form"
    return render(request, template, context)


def _version_deleted(request: HtmxHttpRequest, version) -> HttpResponse:
    """After a delete: the artifact's versions (or the project's artifacts when none is left), in place for
    htmx, with the confirmation as a message."""
    artifact = version.artifact
    artifact.refresh_from_db(fields=["num_versions"])
    message = f"Deleted {artifact.name}:{version.label}."
    remaining = artifact.num_versions > 0
    url = (
        artifact.get_absolute_url()
        if remaining
        else reverse("artifacts:artifact_browse", args=[artifact.project.entity.name, artifact.project.name])
    )
    if not request.htmx:
        messages.success(request, message)
        return redirect(url)
    context = _browser_context(request, artifact.project, artifact if remaining else None)
    if remaining:
        context["versions_page"] = _versions_page(request, artifact, 1)
    response = render(request, "artifacts/artifact_browse.html#artifact-browser", context)
    retarget(response, "#artifact-browser")
    reswap(response, "outerHTML")
    push_url(response, url)
    trigger_client_event(response, "showMessage", {"message": message})
    return trigger_client_event(response, "closeModal", after="settle")


COMPARE_TEMPLATE = "artifacts/version_compare.html"
COMPARE_FILTERS = [("", "All"), *((status, status.capitalize()) for status in compare.STATUSES)]


def render_compare(
    request: HtmxHttpRequest,
    context: dict,
    old: compare.Side | None = None,
    new: compare.Side | None = None,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The compare page of two versions (the Artifact browser's and the registry's), or why it cannot be shown
    (`error`, with `status`); for htmx paging and filtering its Files section alone."""
    context["error"] = error
    template = COMPARE_TEMPLATE
    if not error and old is not None and new is not None:
        context.update(_compare_context(request, old, new))
        if wants_fragment(request) and request.htmx.target in ("compare-files", "compare-references"):
            template += f"#{request.htmx.target}"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _compare_context(request: HtmxHttpRequest, old: compare.Side, new: compare.Side) -> dict:
    status = request.GET.get("status", "")
    if status not in compare.STATUSES:
        status = ""
    counts = compare.file_counts(old.version, new.version)
    rows = compare.file_rows(old.version, new.version, status or None)
    files = queries.CountedPaginator(rows, compare.FILES_PER_PAGE, counts[status or "all"]).get_page(
        request.GET.get("page")
    )
    files.object_list = compare.with_deltas(files.object_list)
    # Reference entries (URIs with the digest the client recorded), when either version has some: paged alone.
    ref_counts = compare.file_counts(old.version, new.version, references=True)
    references = None
    if ref_counts["all"]:
        references = queries.CountedPaginator(
            compare.file_rows(old.version, new.version, references=True), compare.FILES_PER_PAGE, ref_counts["all"]
        ).get_page(request.GET.get("rpage"))
        references.object_list = compare.with_deltas(references.object_list)
    return {
        "references": references,
        "reference_counts": [(key, ref_counts[key]) for key in compare.STATUSES],
        "old": old,
        "new": new,
        "sides": [old, new],
        "status": status,
        "files": files,
        "filters": [
            {"key": key, "label": label, "count": counts[key or "all"], "url": f"{request.path}?status={key}"}
            for key, label in COMPARE_FILTERS
        ],
        "metadata": compare.metadata_diff(old.version.metadata, new.version.metadata),
        "size_delta": new.version.size - old.version.size,
        "files_delta": new.version.num_files - old.version.num_files,
    }


def compare_range_error(old: int, new: int, found: Iterable[int], owner: str) -> tuple[str, int] | None:
    """Why `v<old>...v<new>` cannot be compared, with the status to answer; None when it can."""
    if old == new:
        return f"Pick two different versions: v{old}...v{new} compares v{old} with itself.", 400
    missing = sorted({old, new} - set(found))
    if missing:
        return f"{owner} has no version {' or '.join(f'v{i}' for i in missing)}.", 404
    return None


def compare_picked(
    request: HtmxHttpRequest, context: dict, existing: Callable[[set[int]], set[int]], owner: str, url: Callable
) -> HttpResponse:
    """The Versions table's Compare selected (`?v=3&v=1`): on to the compare page of the two ticked versions,
    older first (htmx: a full navigation); else the form again with why (htmx), or the page saying why (400)."""
    try:
        old, new = compare.parse_picked(request.GET.getlist("v"), existing, owner)
    except ValueError as exc:
        if request.htmx:
            return render(
                request, "artifacts/_compare_form.html", {"compare_pick_url": request.path, "compare_error": str(exc)}
            )
        return render_compare(request, context, error=str(exc), status=400)
    target = url(old, new)
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


def _artifact_compare_context(artifact) -> dict:
    p = artifact.project
    return {
        "project": p,
        "subject": artifact.name,
        "back_url": artifact.get_absolute_url(),
        "crumbs": [
            (p.entity.name, reverse("artifacts:entity_detail", args=[p.entity.name])),
            (p.name, p.get_absolute_url()),
            ("artifacts", reverse("artifacts:artifact_browse", args=[p.entity.name, p.name])),
            (artifact.name, artifact.get_absolute_url()),
            ("Compare", None),
        ],
    }


@require_GET
def artifact_compare_pick(request: HtmxHttpRequest, entity: str, project: str, type: str, name: str) -> HttpResponse:
    artifact = queries.artifact_for_user(request.user, entity, project, type, name)
    return compare_picked(
        request,
        _artifact_compare_context(artifact),
        lambda indexes: queries.version_indexes(artifact, indexes),
        artifact.name,
        lambda old, new: reverse("artifacts:artifact_compare", args=[entity, project, type, name, old, new]),
    )


@require_GET
def artifact_compare(
    request: HtmxHttpRequest, entity: str, project: str, type: str, name: str, old: int, new: int
) -> HttpResponse:
    """`.../<name>/compare/v1...v3`: v1's files and metadata against v3's (what v3 added, removed, changed)."""
    artifact = queries.artifact_for_user(request.user, entity, project, type, name)
    context = _artifact_compare_context(artifact)
    versions = queries.versions_by_index(artifact, [old, new])
    if problem := compare_range_error(old, new, versions, artifact.name):
        return render_compare(request, context, error=problem[0], status=problem[1])
    context["swap_url"] = reverse("artifacts:artifact_compare", args=[entity, project, type, name, new, old])
    old_side, new_side = (
        compare.Side(
            label=v.label,
            full_name=v.full_name,
            url=v.get_absolute_url(),
            version=v,
            aliases=[a.name for a in v.aliases.all()],
            links=queries.version_links(request.user, v),
        )
        for v in (versions[old], versions[new])
    )
    return render_compare(request, context, old_side, new_side)
