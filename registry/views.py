import functools
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, push_url, reswap, retarget, trigger_client_event

from artifacts import compare, lineage, names, permissions
from artifacts import queries as artifact_queries
from artifacts import services as artifact_services
from artifacts.models import MODEL_EVENT_KINDS, Artifact, Project, Role
from artifacts.panel import AliasChip, Panel, build_panel, wandb_tab
from artifacts.views import (
    PANEL_PARTIALS,
    PANEL_TEMPLATE,
    compare_picked,
    compare_range_error,
    render_compare,
    render_modal,
    site_url,
)
from registry import automations, queries, services
from registry import permissions as registry_permissions
from registry.forms import (
    AutomationForm,
    CollectionForm,
    LinkAliasesForm,
    LinkNewVersionForm,
    RegisteredModelForm,
    RegistryForm,
    RegistrySettingsForm,
    SelectRegisteredModelForm,
    WebhookEditForm,
    WebhookForm,
)
from registry.models import DeliveryStatus, Link, RegisteredModel, Registry, RegistryRole, scope_route
from registry_site.htmx import HtmxHttpRequest, wants_fragment


def _render_page(request: HtmxHttpRequest, template: str, context: dict, partials: set[str]) -> HttpResponse:
    """The whole page, or for htmx the partial it targets when that is one of `partials`; cached apart."""
    if wants_fragment(request) and request.htmx.target in partials:
        template += f"#{request.htmx.target}"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _errors(exc: ValidationError | PermissionDenied) -> list[str]:
    return exc.messages if isinstance(exc, ValidationError) else [str(exc)]


def _done(request: HtmxHttpRequest, message: str, redirect_to: str, *events: str) -> HttpResponse:
    """Success: htmx closes the dialog and tells the page; a plain POST redirects with a message."""
    if not request.htmx:
        messages.success(request, message)
        return redirect(redirect_to)
    response = HttpResponse(status=204)
    trigger_client_event(response, "closeModal")
    trigger_client_event(response, "showMessage", {"message": message})
    for event in events:
        trigger_client_event(response, event)
    return response


@require_http_methods(["GET", "POST"])
def link_to_registry(
    request: HtmxHttpRequest, entity: str, project: str, type: str, name: str, index: int
) -> HttpResponse:
    """Two steps in one dialog: where (the team's Model Registry, or a registry of its organization) and Select a
    register model (a collection) or a new name -> Next step -> Aliases -> Link to registry."""
    version = artifact_queries.version_for_user(request.user, entity, project, type, name, index)
    team = version.artifact.project.entity
    # The team's members link its models to its Model Registry; a registry's members and admins link into it
    # (services.link_check decides again on submit).
    destinations = {}
    if version.artifact.is_model and permissions.can_change(request.user, team):
        destinations[names.REGISTRY_PROJECT] = team
    for registry in queries.linkable_registries(request.user, version):
        destinations[registry.name] = registry
    if not destinations:
        permissions.require_change(request.user, team, visible=True)
        raise Http404(f"No registry you may link to accepts artifacts of type '{version.artifact.type}'.")
    data = request.POST if request.method == "POST" else request.GET
    where = data.get("registry") if data.get("registry") in destinations else next(iter(destinations))
    scope = destinations[where]
    linkable = (
        queries.linkable_models(request.user, team, version.artifact.type)
        if scope is team
        else RegisteredModel.objects.filter(registry=scope, type=version.artifact.type).order_by("name")
    )
    models = list(linkable.values_list("name", flat=True))
    step = request.POST.get("step", "1") if request.method == "POST" else "1"
    select = SelectRegisteredModelForm(
        request.POST if request.method == "POST" else None, models=models, collections=scope is not team
    )
    context = {
        "version": version,
        "select": select,
        "step": 1,
        "existing_link": None,
        "destinations": destinations,
        "where": where,
        "scope": scope,
    }

    if request.method == "POST" and select.is_valid():
        target = select.cleaned_data["target"]
        rm = linkable.filter(name=target).first()
        existing = [
            a.name
            for a in (rm.aliases.exclude(name=names.LATEST).order_by("name") if rm else [])
            if registry_permissions.may_set_alias(request.user, scope, a.name)
        ]
        already = rm.links.filter(source=version).first() if rm else None
        aliases = LinkAliasesForm(request.POST if step == "2" else None, existing=existing)
        context.update(step=2, target=target, aliases=aliases, existing_link=already, is_new=rm is None)
        if step == "2" and aliases.is_valid():
            try:
                result = services.link_version(
                    version=version,
                    user=request.user,
                    entity=scope if scope is team else None,
                    registry=None if scope is team else scope,
                    registered_model_name=target,
                    aliases=aliases.cleaned_data["all_aliases"],
                )
            except (ValidationError, PermissionDenied) as exc:
                for error in _errors(exc):
                    aliases.add_error(None, error)
            else:
                link = result.link
                if not result.created:
                    context.update(step=3, existing_link=link)
                    response = render_modal(request, "registry/link_to_registry_modal.html", context, "link")
                    return trigger_client_event(response, "linksChanged") if request.htmx else response
                return _done(
                    request,
                    f"Linked {version.artifact.name}:{version.label} as {link.registered_model.name}:{link.label}",
                    version.get_absolute_url(),
                    "linksChanged",
                )
    if wants_fragment(request) and request.method == "GET" and request.htmx.target == "link-form":
        return render(request, "registry/link_to_registry_modal.html#link-form", context)
    return render_modal(request, "registry/link_to_registry_modal.html", context, "link")


def _wandb_selection(request: HtmxHttpRequest, selection: str) -> str:
    """Where W&B's legacy deep link `?selectionPath=<entity>/model-registry/<Name>&view=all-models|versions`
    (the model) or `...&view=membership&version=v<N>|<alias>` (one of its versions) is here."""
    parts = selection.split("/")
    if (
        len(parts) != 3
        or parts[1] != names.REGISTRY_PROJECT
        or not names.ENTITY_NAME_RE.fullmatch(parts[0])
        or not names.NAME_RE.fullmatch(parts[2])
    ):
        raise Http404("No such registered model.")
    entity, _, name = parts
    version = request.GET.get("version", "")
    if not version:
        return reverse("registry:model_detail", args=[entity, name])
    index = names.parse_version(version)
    if index is not None:
        return reverse("registry:link_detail", args=[entity, name, index])
    return queries.link_by_alias_for_user(request.user, entity, name, version).get_absolute_url()


@require_GET
def wandb_model_list(request: HtmxHttpRequest, entity: str) -> HttpResponse:
    query = request.GET.urlencode()
    return redirect(reverse("registry:model_list") + (f"?{query}" if query else ""))


@require_GET
def model_list(request: HtmxHttpRequest) -> HttpResponse:
    if selection := request.GET.get("selectionPath"):
        return redirect(_wandb_selection(request, selection))
    search = request.GET.get("q", "").strip()
    sort = request.GET.get("sort") if request.GET.get("sort") in queries.SORTS else "updated"
    page = artifact_queries.CappedPaginator(
        queries.registered_models(request.user, search, sort), queries.MODELS_PER_PAGE
    ).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "q": search,
        "sort": sort,
        "can_create": request.user.is_authenticated and queries.linkable_entities(request.user).exists(),
        "site_url": site_url(request),
    }
    for rm in page:
        role = registry_permissions.role(request.user, rm.scope)
        rm.can_link = role in permissions.WRITE_ROLES
        rm.can_admin = role == "admin"
    return _render_page(request, "registry/model_list.html", context, {"model-table"})


@require_http_methods(["GET", "POST"])
def model_create(request: HtmxHttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    entities = queries.linkable_entities(request.user)
    if not entities.exists():
        raise PermissionDenied("You need the member or admin role in an entity to register a model.")
    form = RegisteredModelForm(request.POST or None, entities=entities)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rm = services.registered_model_create(
                entity=data["entity"],
                name=data["name"],
                type=data["type"],
                description=data["description"],
                tags=data["tags"],
                user=request.user,
            )
        except (ValidationError, PermissionDenied) as exc:
            for error in _errors(exc):
                form.add_error("name" if "already exists" in error else None, error)
        else:
            if request.htmx:
                return HttpResponseClientRedirect(rm.get_absolute_url())
            return redirect(rm.get_absolute_url())
    return render_modal(request, "registry/new_model_modal.html", {"form": form}, "new-model")


def _pick(qs, **lookup):
    """The object named by `lookup`, or None when no value was sent; 404 for a name that is not offered."""
    value = next(iter(lookup.values()))
    if not value:
        return None
    return get_object_or_404(qs, **lookup)


def _version_choices(artifact: Artifact | None, data: QueryDict, *, submitting: bool) -> dict[str, Any]:
    """The Version field of a cascade (templates/registry/_version_choice.html): the newest VERSION_CHOICES of
    `artifact`, or those the search `version_q` finds; a version submitted that neither lists (found by an
    earlier search) is added, so it can be chosen."""
    search = data.get("version_q", "").strip()[:128]
    versions = list(queries.artifact_versions(artifact, search)[: queries.VERSION_CHOICES])
    chosen = names.parse_version(f"v{data.get('version', '')}")
    if submitting and chosen is not None and all(v.index != chosen for v in versions):
        versions += list(queries.artifact_versions(artifact).filter(index=chosen))
    searchable = bool(search) or len(versions) > queries.SEARCHABLE_FROM
    return {"versions": versions, "version_q": search, "searchable": searchable}


@require_http_methods(["GET", "POST"])
def link_new_version(
    request: HtmxHttpRequest, entity: str, name: str, registry: str | None = None, project: str | None = None
) -> HttpResponse:
    """Project -> Model Artifact -> Version; each select sends itself and its ancestors, so a change
    resets what follows. The server owns the state."""
    rm = queries.registered_model_for_user(request.user, entity, name, registry, project)
    registry_permissions.require_change(request.user, rm.scope)
    data = request.POST if request.method == "POST" else request.GET
    # Without JavaScript, "Show choices" posts the form to fill the next select; nothing is linked.
    linking = request.method == "POST" and "refresh" not in request.POST
    # A collection takes versions of any team of its organization: Team -> Project -> Artifact -> Version.
    teams = queries.source_teams(request.user, rm)
    team = _pick(teams, name=data.get("team")) if rm.is_collection else None
    projects = queries.model_projects(request.user, rm, team)
    project = _pick(projects, name=data.get("project"))
    artifacts = queries.model_artifacts(project, rm)
    artifact = _pick(artifacts, name=data.get("artifact")) if project else None
    choices = _version_choices(artifact, data, submitting=linking)
    versions = choices["versions"]
    form = LinkNewVersionForm(
        data if linking else None,
        initial={"project": data.get("project"), "artifact": data.get("artifact"), "version": data.get("version")},
        teams=teams if rm.is_collection else None,
        projects=projects,
        artifacts=artifacts,
        versions=versions,
    )
    context = {
        "rm": rm,
        "form": form,
        "team": team,
        "project": project,
        "artifact": artifact,
        **choices,
    }
    if linking and form.is_valid():
        version = next(v for v in versions if str(v.index) == form.cleaned_data["version"])
        try:
            result = services.link_version(
                version=version, user=request.user, registered_model=rm, aliases=form.cleaned_data["aliases"]
            )
        except (ValidationError, PermissionDenied) as exc:
            for error in _errors(exc):
                form.add_error(None, error)
        else:
            link = result.link
            source = f"{version.artifact.name}:{version.label}"
            message = (
                f"Linked {source} as {rm.name}:{link.label}"
                if result.created
                else f"{source} is already linked as {rm.name}:{link.label}"
            )
            return _done(request, message, rm.get_absolute_url(), "registryChanged")
    if wants_fragment(request) and request.method == "GET" and request.htmx.target == "link-form":
        return render(request, "registry/link_new_version_modal.html#link-form", context)
    return render_modal(request, "registry/link_new_version_modal.html", context, "link")


def _registry_panel(request: HtmxHttpRequest, link, tab: str) -> Panel:
    rm = link.registered_model
    can = registry_permissions.can_change(request.user, rm.scope)
    protected = registry_permissions.protected_aliases(rm.scope)
    aliases = [
        AliasChip(
            a.name,
            protected=a.name in protected,
            remove_url=rm.route("link_alias_remove", link.index, a.name)
            if a.name != names.LATEST and registry_permissions.may_set_alias(request.user, rm.scope, a.name)
            else None,
        )
        for a in queries.link_aliases(link)
    ]
    return Panel(
        version=link.source,
        tab=tab,
        full_name=link.full_name,
        tab_url=link.tab_url,
        aliases=aliases,
        alias_add_url=rm.route("link_alias_add", link.index) if can else None,
        usage_name=link.full_name,
        registry_link=link,
        unlink_url=rm.route("link_unlink", link.index) if may_unlink(request.user, link, aliases) else None,
        can_change=can,
        depth=lineage.parse_depth(request.GET.get("depth")),
        events=functools.partial(queries.events_of_link, link),
        history_url=rm.route("model_history"),
    )


def _detail_context(request: HtmxHttpRequest, rm: RegisteredModel, selected: Link | None = None) -> dict:
    """The model card; its Versions table pages by LINKS_PER_PAGE, opening at the page of the selected version
    unless a page is asked for."""
    role = registry_permissions.role(request.user, rm.scope)
    number = request.GET.get("page")
    if number is None and selected is not None:
        number = queries.link_position(selected) // queries.LINKS_PER_PAGE + 1
    links_page = artifact_queries.CountedPaginator(
        queries.links_of(rm), queries.LINKS_PER_PAGE, rm.num_versions
    ).get_page(number)
    return {
        "rm": rm,
        "links": links_page,
        "can_change": role in permissions.WRITE_ROLES,
        "is_admin": role == Role.ADMIN,
        "protected": registry_permissions.protected_aliases(rm.scope),
        "selected_index": None,
        "automations": queries.model_automations(rm) if role == Role.ADMIN and not rm.is_portfolio else None,
        "automation_create_url": scope_route(rm.scope, "automation_create") if not rm.is_portfolio else None,
    }


REGISTRY_PARTIALS = {"model-card", "model-tags", "versions-table", "detail-panel"}


def _render_detail(request: HtmxHttpRequest, context: dict) -> HttpResponse:
    template = "registry/model_detail.html"
    if wants_fragment(request):
        target = request.htmx.target
        if target in PANEL_PARTIALS and "panel" in context:
            return render(request, f"{PANEL_TEMPLATE}#{target}", context)
        if target in REGISTRY_PARTIALS:
            template += f"#{target}"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@require_GET
def model_detail(
    request: HtmxHttpRequest, entity: str, name: str, registry: str | None = None, project: str | None = None
) -> HttpResponse:
    rm = queries.registered_model_for_user(request.user, entity, name, registry, project)
    context = _detail_context(request, rm)
    # The Versions table refreshes from here and keeps the open version's row marked (`?v=<index>`).
    v = request.GET.get("v", "")
    context["selected_index"] = names.parse_version(f"v{v}")
    return _render_detail(request, context)


@require_GET
def link_detail(
    request: HtmxHttpRequest,
    entity: str,
    name: str,
    index: int,
    tab: str = "version",
    registry: str | None = None,
    project: str | None = None,
) -> HttpResponse:
    link = queries.link_for_user(request.user, entity, name, index, registry, project)
    if ours := wandb_tab(tab):
        query = request.GET.urlencode()
        return redirect(link.tab_url(ours) + (f"?{query}" if query else ""))
    context = _detail_context(request, link.registered_model, selected=link)
    context["selected_link"] = link
    context["selected_index"] = link.index
    context.update(build_panel(request.user, _registry_panel(request, link, tab), site_url(request)))
    return _render_detail(request, context)


@require_GET
def model_history(
    request: HtmxHttpRequest, entity: str, name: str, registry: str | None = None, project: str | None = None
) -> HttpResponse:
    """The model card's History tab: who created and edited it, linked, unlinked and moved which alias when,
    filtered by alias and kind, 50 a page (`?before=<event id>` pages back); the filter form swaps only the list
    under htmx."""
    rm = queries.registered_model_for_user(request.user, entity, name, registry, project)
    alias = request.GET.get("alias", "")
    kind = request.GET.get("kind", "")
    if kind and kind not in MODEL_EVENT_KINDS:
        kind = ""
    hide_latest = request.GET.get("hide_latest") == "1"
    before = request.GET.get("before", "")
    events = queries.events_of(
        rm, alias=alias, kind=kind, hide_latest=hide_latest, before=int(before) if before.isdigit() else None
    )
    older = None
    if len(events) > queries.EVENTS_PER_PAGE:
        events = events[: queries.EVENTS_PER_PAGE]
        query = request.GET.copy()
        query["before"] = str(events[-1].pk)
        older = f"?{query.urlencode()}"
    newest = request.GET.copy()
    newest.pop("before", None)
    context = {
        "rm": rm,
        "events": events,
        "older_url": older,
        "newest_url": f"?{newest.urlencode()}" if before else None,
        "aliases": queries.event_aliases(rm),
        "kinds": [(kind, kind.label) for kind in MODEL_EVENT_KINDS],
        "alias": alias,
        "kind": kind,
        "hide_latest": hide_latest,
    }
    template = "registry/model_history.html"
    if wants_fragment(request) and request.htmx.target == "history-list":
        template += "#history-list"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _model_compare_context(rm: RegisteredModel) -> dict:
    """The compare page's breadcrumbs, as the model card's."""
    if rm.is_collection:
        crumbs = [
            ("Registry", reverse("registry:registry_home")),
            (rm.registry.organization.name, None),
            (rm.registry.name, rm.registry.get_absolute_url()),
        ]
    elif rm.is_portfolio:
        crumbs = [
            (rm.entity.name, reverse("artifacts:entity_detail", args=[rm.entity.name])),
            (rm.project.name, rm.project.get_absolute_url()),
            ("Artifacts", reverse("artifacts:artifact_browse", args=[rm.entity.name, rm.project.name])),
        ]
    else:
        crumbs = [("Model Registry", reverse("registry:model_list")), (rm.entity.name, None)]
    crumbs += [(rm.name, rm.get_absolute_url()), ("Compare", None)]
    return {"rm": rm, "subject": rm.name, "back_url": rm.get_absolute_url(), "crumbs": crumbs}


@require_GET
def model_compare_pick(
    request: HtmxHttpRequest, entity: str, name: str, registry: str | None = None, project: str | None = None
) -> HttpResponse:
    rm = queries.registered_model_for_user(request.user, entity, name, registry, project)
    return compare_picked(
        request,
        _model_compare_context(rm),
        lambda indexes: queries.link_indexes(rm, indexes),
        rm.name,
        lambda old, new: rm.route("model_compare", old, new),
    )


@require_GET
def model_compare(
    request: HtmxHttpRequest,
    entity: str,
    name: str,
    old: int,
    new: int,
    registry: str | None = None,
    project: str | None = None,
) -> HttpResponse:
    """`<registered model>/compare/v1...v3`: the two registry versions, their source versions' files and
    metadata compared; who may see the registered model sees both (as on the version pages)."""
    rm = queries.registered_model_for_user(request.user, entity, name, registry, project)
    context = _model_compare_context(rm)
    links = queries.links_by_index(rm, [old, new])
    if problem := compare_range_error(old, new, links, rm.name):
        return render_compare(request, context, error=problem[0], status=problem[1])
    context["swap_url"] = rm.route("model_compare", new, old)
    old_side, new_side = (
        compare.Side(
            label=lk.label,
            full_name=lk.full_name,
            url=lk.get_absolute_url(),
            version=lk.source,
            aliases=[a.name for a in lk.aliases.all()],
            links=artifact_queries.version_links(request.user, lk.source),
            source=lk.source,
        )
        for lk in (links[old], links[new])
    )
    return render_compare(request, context, old_side, new_side)


def _after_change(request: HtmxHttpRequest, rm: RegisteredModel, region: str, error: str | None = None, link=None):
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(link.get_absolute_url() if link else rm.get_absolute_url())
    rm.refresh_from_db()
    context = _detail_context(request, rm)
    if link is not None:
        context["selected_link"] = link
        context["selected_index"] = link.index
        context.update(build_panel(request.user, _registry_panel(request, link, "version"), site_url(request)))
        template = f"{PANEL_TEMPLATE}#{region}"
    else:
        template = f"registry/model_detail.html#{region}"
    context[f"{region.replace('-', '_')}_error"] = error
    response = render(request, template, context)
    return trigger_client_event(response, "registryChanged") if not error else response


@require_POST
def model_card_update(
    request: HtmxHttpRequest, entity: str, name: str, registry: str | None = None, project: str | None = None
) -> HttpResponse:
    rm = queries.registered_model_for_user(request.user, entity, name, registry, project)
    try:
        services.registered_model_update(
            registered_model=rm, user=request.user, description=request.POST.get("description", "")
        )
    except ValidationError as exc:
        return _after_change(request, rm, "model-card", " ".join(exc.messages))
    return _after_change(request, rm, "model-card")


@require_POST
def model_tag_add(
    request: HtmxHttpRequest, entity: str, name: str, registry: str | None = None, project: str | None = None
) -> HttpResponse:
    rm = queries.registered_model_for_user(request.user, entity, name, registry, project)
    tag = request.POST.get("tag", "").strip()
    try:
        services.registered_model_update(registered_model=rm, user=request.user, tags=[*rm.tags, tag])
    except ValidationError as exc:
        return _after_change(request, rm, "model-tags", " ".join(exc.messages))
    return _after_change(request, rm, "model-tags")


@require_POST
def model_tag_remove(
    request: HtmxHttpRequest, entity: str, name: str, tag: str, registry: str | None = None, project: str | None = None
) -> HttpResponse:
    rm = queries.registered_model_for_user(request.user, entity, name, registry, project)
    services.registered_model_update(registered_model=rm, user=request.user, tags=[t for t in rm.tags if t != tag])
    return _after_change(request, rm, "model-tags")


@require_http_methods(["GET", "POST"])
def model_delete(
    request: HtmxHttpRequest, entity: str, name: str, registry: str | None = None, project: str | None = None
) -> HttpResponse:
    """GET: the confirmation (a dialog for htmx, a page otherwise); POST: delete, admins only."""
    rm = queries.registered_model_for_user(request.user, entity, name, registry, project)
    if rm.is_collection:
        after = rm.registry.get_absolute_url()
    elif rm.is_portfolio:
        after = reverse("artifacts:artifact_browse", args=[rm.entity.name, rm.project.name])
    else:
        after = reverse("registry:model_list")
    if request.method == "POST":
        services.registered_model_delete(registered_model=rm, user=request.user)
        message = f"Deleted the {rm.kind} {rm.name}."
        messages.success(request, message)
        if request.htmx:
            return HttpResponseClientRedirect(after)
        return redirect(after)
    registry_permissions.require_admin(request.user, rm.scope)
    count = rm.num_versions
    confirm = {
        "title": f"Delete {rm.name}?",
        "body": [
            f"This deletes the {rm.kind} {rm} and its "
            f"{count} version link{'' if count == 1 else 's'}, with their aliases. The source artifact versions "
            "stay in their projects."
        ],
        "action": rm.route("model_delete"),
        "button": f"Delete {rm.kind}",
        "cancel_url": rm.get_absolute_url(),
    }
    return render_modal(request, "confirm_modal.html", {"confirm": confirm}, "confirm")


def may_unlink(user, link, aliases: list[AliasChip]) -> bool:
    """The rule of services.link_delete, for showing the action: members, or admins for a protected version."""
    scope = link.registered_model.scope
    if any(a.protected for a in aliases):
        return registry_permissions.is_admin(user, scope)
    return registry_permissions.can_change(user, scope)


@require_http_methods(["GET", "POST"])
def link_unlink(
    request: HtmxHttpRequest,
    entity: str,
    name: str,
    index: int,
    registry: str | None = None,
    project: str | None = None,
) -> HttpResponse:
    """Unlink a registry version (the source version stays). GET: the confirmation; POST: unlink."""
    link = queries.link_for_user(request.user, entity, name, index, registry, project)
    rm = link.registered_model
    registry_permissions.require_change(request.user, rm.scope)
    if request.method == "POST":
        services.link_delete(link=link, user=request.user)
        message = f"Unlinked {rm.name}:{link.label} ({link.source_name} stays in its project)."
        if not request.htmx:
            messages.success(request, message)
            return redirect(rm.get_absolute_url())
        # The panel of the unlinked version closes; the Versions table and the list refresh themselves.
        context = {**_detail_context(request, rm), "selected_link": None}
        response = render(request, "registry/model_detail.html#detail-panel", context)
        retarget(response, "#detail-panel")
        reswap(response, "outerHTML")
        push_url(response, rm.get_absolute_url())
        trigger_client_event(response, "showMessage", {"message": message})
        trigger_client_event(response, "closeModal", after="settle")
        return trigger_client_event(response, "registryChanged", after="settle")
    protected = registry_permissions.protected_aliases(rm.scope)
    is_admin = registry_permissions.is_admin(request.user, rm.scope)
    aliases = [a.name for a in queries.link_aliases(link)]
    locked = sorted(protected & set(aliases))
    body = [
        f"This removes {rm.name}:{link.label} from the {rm.kind}. The source version "
        f"{link.source.full_name} stays; {rm.name}:{link.label} is never reused for another version.",
    ]
    others = [a for a in aliases if a != names.LATEST]
    if others:
        body.append(f"Its aliases go with it: {', '.join(others)}.")
    if names.LATEST in aliases:
        body.append("latest moves to the newest version left.")
    if locked and not is_admin:
        where = rm.entity.name if not rm.is_collection else f"the {rm.registry.name} registry"
        body.append(f"It carries the protected alias {', '.join(locked)}: only admins of {where} may unlink it.")
    confirm = {
        "title": f"Unlink {rm.name}:{link.label}?",
        "body": body,
        "action": rm.route("link_unlink", link.index),
        "button": "Unlink version" if not locked or is_admin else None,
        "cancel_url": link.get_absolute_url(),
    }
    return render_modal(request, "confirm_modal.html", {"confirm": confirm}, "confirm")


@require_POST
def link_alias_add(
    request: HtmxHttpRequest,
    entity: str,
    name: str,
    index: int,
    registry: str | None = None,
    project: str | None = None,
) -> HttpResponse:
    link = queries.link_for_user(request.user, entity, name, index, registry, project)
    registry_permissions.require_change(request.user, link.registered_model.scope)
    try:
        services.link_alias_set(link=link, name=request.POST.get("alias", "").strip(), user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        return _after_change(request, link.registered_model, "version-aliases", " ".join(_errors(exc)), link)
    return _after_change(request, link.registered_model, "version-aliases", link=link)


@require_POST
def link_alias_remove(
    request: HtmxHttpRequest,
    entity: str,
    name: str,
    index: int,
    alias: str,
    registry: str | None = None,
    project: str | None = None,
) -> HttpResponse:
    link = queries.link_for_user(request.user, entity, name, index, registry, project)
    registry_permissions.require_change(request.user, link.registered_model.scope)
    try:
        services.link_alias_remove(link=link, name=alias, user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        return _after_change(request, link.registered_model, "version-aliases", " ".join(_errors(exc)), link)
    return _after_change(request, link.registered_model, "version-aliases", link=link)


@require_GET
def team_list(request: HtmxHttpRequest) -> HttpResponse:
    """The gear of the Model Registry: the registry spans the user's entities, so it leads to their teams (one
    team: straight to its settings)."""
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    teams = artifact_queries.teams_of(request.user)
    if len(teams) == 1:
        return redirect("registry:team_detail", teams[0][0].name)
    return render(request, "registry/team_list.html", {"teams": teams})


TEAM_PARTIALS = {"team-members", "protected-aliases", "webhooks"}


def _team_context(request: HtmxHttpRequest, entity) -> dict:
    is_admin = permissions.is_admin(request.user, entity)
    return {
        "entity": entity,
        "members": artifact_queries.members_of(entity),
        "is_admin": is_admin,
        "roles": Role.choices,
        # Webhooks (their URLs and headers) are for the team's admins only.
        "webhooks": queries.webhooks_of(entity).annotate(used_by=Count("automations")) if is_admin else None,
        **(_scope_context(entity) if is_admin else {}),
    }


@require_GET
def team_detail(request: HtmxHttpRequest, entity: str) -> HttpResponse:
    """Members and roles, and the protected aliases: admins change them, members and viewers read them."""
    entity = artifact_queries.team_for_user(request.user, entity)
    return _render_page(request, "registry/team_settings.html", _team_context(request, entity), TEAM_PARTIALS)


def _team_changed(request: HtmxHttpRequest, entity, region: str, message: str = "", **errors: object) -> HttpResponse:
    """After a change: the changed region for htmx (with the error, if any), else back to the page."""
    # The change may have been to the user's own role.
    permissions.forget_roles(request.user)
    if not permissions.can_view_entity(request.user, entity):
        # The user took themselves out of the team.
        messages.success(request, message)
        url = reverse("registry:team_list")
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if not request.htmx:
        for error in errors.values():
            if error:
                messages.error(request, error)
        if message and not any(errors.values()):
            messages.success(request, message)
        return redirect("registry:team_detail", entity.name)
    response = render(request, f"registry/team_settings.html#{region}", {**_team_context(request, entity), **errors})
    if message and not any(errors.values()):
        trigger_client_event(response, "showMessage", {"message": message})
    return response


def _team_member(entity, username: str):
    membership = get_object_or_404(artifact_queries.members_of(entity), user__username=username)
    return membership.user


@require_POST
def team_member_add(request: HtmxHttpRequest, entity: str) -> HttpResponse:
    entity = artifact_queries.team_for_user(request.user, entity)
    username = request.POST.get("username", "").strip()
    role = request.POST.get("role", Role.MEMBER)
    try:
        artifact_services.membership_add(entity=entity, username=username, role=role, actor=request.user)
    except ValidationError as exc:
        return _team_changed(
            request, entity, "team-members", member_error=" ".join(exc.messages), typed_username=username
        )
    return _team_changed(request, entity, "team-members", f"Added {username} to {entity.name} as {role}.")


@require_POST
def team_member_role(request: HtmxHttpRequest, entity: str, username: str) -> HttpResponse:
    entity = artifact_queries.team_for_user(request.user, entity)
    permissions.require_admin(request.user, entity)
    user = _team_member(entity, username)
    role = request.POST.get("role", "")
    try:
        artifact_services.membership_set(entity=entity, user=user, role=role, actor=request.user)
    except ValidationError as exc:
        return _team_changed(request, entity, "team-members", member_error=" ".join(exc.messages))
    return _team_changed(request, entity, "team-members", f"{username} is now {role} in {entity.name}.")


@require_POST
def team_member_remove(request: HtmxHttpRequest, entity: str, username: str) -> HttpResponse:
    entity = artifact_queries.team_for_user(request.user, entity)
    permissions.require_admin(request.user, entity)
    user = _team_member(entity, username)
    try:
        artifact_services.membership_remove(entity=entity, user=user, actor=request.user)
    except ValidationError as exc:
        return _team_changed(request, entity, "team-members", member_error=" ".join(exc.messages))
    return _team_changed(request, entity, "team-members", f"Removed {username} from {entity.name}.")


@require_POST
def team_protected_alias_add(request: HtmxHttpRequest, entity: str) -> HttpResponse:
    entity = artifact_queries.team_for_user(request.user, entity)
    alias = request.POST.get("alias", "").strip()
    try:
        artifact_services.entity_protected_alias_add(entity=entity, name=alias, actor=request.user)
    except ValidationError as exc:
        return _team_changed(
            request, entity, "protected-aliases", alias_error=" ".join(exc.messages), typed_alias=alias
        )
    return _team_changed(request, entity, "protected-aliases", f"Protected the alias {alias}.")


@require_POST
def team_protected_alias_remove(request: HtmxHttpRequest, entity: str, alias: str) -> HttpResponse:
    entity = artifact_queries.team_for_user(request.user, entity)
    try:
        artifact_services.entity_protected_alias_remove(entity=entity, name=alias, actor=request.user)
    except ValidationError as exc:
        return _team_changed(request, entity, "protected-aliases", alias_error=" ".join(exc.messages))
    return _team_changed(request, entity, "protected-aliases", f"The alias {alias} is no longer protected.")


# W&B's current Registry: /registry, an organization's registries, their settings and collections. A collection's
# own pages are the registered model's (above), addressed by organization and registry.


@require_GET
def registry_home(request: HtmxHttpRequest) -> HttpResponse:
    """Registry cards, recently updated collections, and a search over registries, collections, tags and
    aliases. W&B's legacy deep links (`?selectionPath=`) still lead to the Model Registry."""
    if request.GET.get("selectionPath"):
        return redirect(f"{reverse('registry:model_list')}?{request.GET.urlencode()}")
    search = request.GET.get("q", "").strip()[:200]
    registries = list(queries.registries_for_user(request.user))
    context = {
        "registries": registries,
        "recent": queries.recent_collections(registries),
        "q": search,
        "results": queries.registry_search(request.user, search) if search else None,
        "can_create": request.user.is_authenticated and queries.administered_organizations(request.user).exists(),
    }
    return _render_page(request, "registry/registry_home.html", context, {"registry-search-results"})


@require_http_methods(["GET", "POST"])
def registry_create(request: HtmxHttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    organizations = queries.administered_organizations(request.user)
    if not organizations.exists():
        raise PermissionDenied("Only organization admins may create registries.")
    form = RegistryForm(request.POST or None, organizations=organizations)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            registry = services.registry_create(
                organization=data["organization"],
                name=data["name"],
                user=request.user,
                description=data["description"],
                artifact_types=data["artifact_types"],
                visibility=data["visibility"],
            )
        except (ValidationError, PermissionDenied) as exc:
            for error in _errors(exc):
                form.add_error("name" if "already exists" in error else None, error)
        else:
            url = registry.get_absolute_url()
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return render_modal(request, "registry/new_registry_modal.html", {"form": form}, "new-registry")


def _registry_context(request: HtmxHttpRequest, registry) -> dict:
    role = registry_permissions.role(request.user, registry)
    search = request.GET.get("q", "").strip()[:200]
    page = artifact_queries.CappedPaginator(
        queries.collections_of(registry, search), queries.COLLECTIONS_PER_PAGE
    ).get_page(request.GET.get("page"))
    return {
        "registry": registry,
        "page": page,
        "q": search,
        "can_change": role in permissions.WRITE_ROLES,
        "is_admin": role == Role.ADMIN,
        "site_url": site_url(request),
    }


@require_GET
def registry_detail(request: HtmxHttpRequest, entity: str, registry: str) -> HttpResponse:
    """A registry: the target path to link to, Create collection, its collections (hover ⋯ -> Link new
    version) and the gear for its settings."""
    registry = queries.registry_for_user(request.user, entity, registry)
    context = _registry_context(request, registry)
    return _render_page(request, "registry/registry_detail.html", context, {"collection-table"})


# The whole form, or its Version field (the version search swaps only that, keeping the search box's focus).
FORM_TARGETS = {"collection-form", "collection-version-field"}


@require_http_methods(["GET", "POST"])
def collection_create(request: HtmxHttpRequest, entity: str, registry: str) -> HttpResponse:
    """Name, Type, Description, Tags, then optionally Link version (Team -> Project -> Artifact -> Version): a
    change of a select sends the form back (GET) and the server fills what follows; POST creates (and links)."""
    registry = queries.registry_for_user(request.user, entity, registry)
    registry_permissions.require_change(request.user, registry)
    data = request.POST if request.method == "POST" else request.GET
    creating = request.method == "POST" and "refresh" not in request.POST
    type = data.get("type", "").strip() or (registry.artifact_types[0] if registry.artifact_types else "")
    probe = RegisteredModel(entity=registry.organization.entity, registry=registry, type=type)
    teams = queries.source_teams(request.user, probe)
    team = _pick(teams, name=data.get("team"))
    projects = queries.model_projects(request.user, probe, team) if team and type else Project.objects.none()
    project = _pick(projects, name=data.get("project"))
    artifacts = queries.model_artifacts(project, probe)
    artifact = _pick(artifacts, name=data.get("artifact")) if project else None
    choices = _version_choices(artifact, data, submitting=creating)
    versions = choices["versions"]
    form = CollectionForm(
        data if creating else None,
        initial={key: data.get(key) for key in ("name", "type", "description", "tags", "version")},
        types=registry.artifact_types,
        teams=teams,
        projects=projects,
        artifacts=artifacts,
        versions=versions,
    )
    context = {
        "registry": registry,
        "form": form,
        "team": team,
        "project": project,
        "artifact": artifact,
        **choices,
    }
    if creating and form.is_valid():
        cleaned = form.cleaned_data
        version = next((v for v in versions if str(v.index) == cleaned["version"]), None)
        if cleaned["version"] and version is None:
            form.add_error("version", "Choose a version of the chosen artifact.")
        else:
            try:
                with transaction.atomic():
                    rm = services.registered_model_create(
                        registry=registry,
                        name=cleaned["name"],
                        type=cleaned["type"],
                        description=cleaned["description"],
                        tags=cleaned["tags"],
                        user=request.user,
                    )
                    if version is not None:
                        services.link_version(version=version, user=request.user, registered_model=rm)
            except (ValidationError, PermissionDenied) as exc:
                for error in _errors(exc):
                    form.add_error("name" if "already exists" in error else None, error)
            else:
                url = rm.get_absolute_url()
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if wants_fragment(request) and request.method == "GET" and request.htmx.target in FORM_TARGETS:
        return render(request, "registry/new_collection_modal.html#new-collection-form", context)
    return render_modal(request, "registry/new_collection_modal.html", context, "new-collection")


SETTINGS_PARTIALS = {"registry-settings", "registry-teams", "registry-members", "protected-aliases", "webhooks"}


def _settings_context(request: HtmxHttpRequest, registry, form: RegistrySettingsForm | None = None) -> dict:
    is_admin = registry_permissions.is_admin(request.user, registry)
    return {
        "registry": registry,
        "members": queries.registry_members(registry),
        "team_members": queries.registry_team_members(registry),
        "is_admin": is_admin,
        # Webhooks (their URLs and headers) are for the registry's admins only.
        "webhooks": queries.webhooks_of(registry).annotate(used_by=Count("automations")) if is_admin else None,
        **(_scope_context(registry) if is_admin else {}),
        "roles": RegistryRole.choices,
        "form": form
        or RegistrySettingsForm(
            initial={
                "description": registry.description,
                "artifact_types": ", ".join(registry.artifact_types),
                "visibility": registry.visibility,
            }
        ),
    }


@require_http_methods(["GET", "POST"])
def registry_settings(request: HtmxHttpRequest, entity: str, registry: str) -> HttpResponse:
    """The gear: accepted types, description and visibility; members and roles; protected aliases. Admins change
    them, members and viewers read them."""
    registry = queries.registry_for_user(request.user, entity, registry)
    form = None
    if request.method == "POST":
        registry_permissions.require_admin(request.user, registry)
        form = RegistrySettingsForm(request.POST)
        if form.is_valid():
            try:
                registry = services.registry_update(registry=registry, user=request.user, **form.cleaned_data)
            except (ValidationError, PermissionDenied) as exc:
                for error in _errors(exc):
                    form.add_error(None, error)
            else:
                return _settings_changed(request, registry, "registry-settings", "Saved the registry's settings.")
        if not request.htmx:
            return render(request, "registry/registry_settings.html", _settings_context(request, registry, form))
        return render(
            request,
            "registry/registry_settings.html#registry-settings",
            _settings_context(request, registry, form),
        )
    context = _settings_context(request, registry)
    return _render_page(request, "registry/registry_settings.html", context, SETTINGS_PARTIALS)


def _settings_changed(request: HtmxHttpRequest, registry, region: str, message: str = "", **errors: object):
    registry_permissions.forget_roles(request.user)
    if not registry_permissions.can_view(request.user, registry):
        messages.success(request, message)
        url = reverse("registry:registry_home")
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if not request.htmx:
        for error in errors.values():
            if error:
                messages.error(request, error)
        if message and not any(errors.values()):
            messages.success(request, message)
        return redirect("registry:registry_settings", registry.organization.name, registry.name)
    registry.refresh_from_db()
    context = {**_settings_context(request, registry), **errors}
    response = render(request, f"registry/registry_settings.html#{region}", context)
    if message and not any(errors.values()):
        trigger_client_event(response, "showMessage", {"message": message})
    return response


@require_POST
def registry_member_add(request: HtmxHttpRequest, entity: str, registry: str) -> HttpResponse:
    registry = queries.registry_for_user(request.user, entity, registry)
    username = request.POST.get("username", "").strip()
    role = request.POST.get("role", Role.MEMBER)
    try:
        services.registry_member_add(registry=registry, username=username, role=role, actor=request.user)
    except ValidationError as exc:
        return _settings_changed(
            request, registry, "registry-members", member_error=" ".join(exc.messages), typed_username=username
        )
    return _settings_changed(request, registry, "registry-members", f"Added {username} as {role}.")


def _registry_member(registry, username: str):
    return get_object_or_404(queries.registry_members(registry), user__username=username).user


@require_POST
def registry_member_role(request: HtmxHttpRequest, entity: str, registry: str, username: str) -> HttpResponse:
    registry = queries.registry_for_user(request.user, entity, registry)
    registry_permissions.require_admin(request.user, registry)
    user = _registry_member(registry, username)
    role = request.POST.get("role", "")
    try:
        services.registry_member_set(registry=registry, user=user, role=role, actor=request.user)
    except ValidationError as exc:
        return _settings_changed(request, registry, "registry-members", member_error=" ".join(exc.messages))
    return _settings_changed(request, registry, "registry-members", f"{username} is now {role}.")


@require_POST
def registry_member_remove(request: HtmxHttpRequest, entity: str, registry: str, username: str) -> HttpResponse:
    registry = queries.registry_for_user(request.user, entity, registry)
    registry_permissions.require_admin(request.user, registry)
    user = _registry_member(registry, username)
    services.registry_member_remove(registry=registry, user=user, actor=request.user)
    return _settings_changed(request, registry, "registry-members", f"Removed {username} from the registry.")


@require_POST
def registry_team_add(request: HtmxHttpRequest, entity: str, registry: str) -> HttpResponse:
    """Add a team to the registry: each of its members has the team's role there while in the team."""
    registry = queries.registry_for_user(request.user, entity, registry)
    team = request.POST.get("team", "").strip()
    role = request.POST.get("role", RegistryRole.VIEWER)
    try:
        services.registry_team_member_add(registry=registry, team_name=team, role=role, actor=request.user)
    except ValidationError as exc:
        return _settings_changed(
            request, registry, "registry-teams", team_error=" ".join(exc.messages), typed_team=team
        )
    return _settings_changed(request, registry, "registry-teams", f"Added the team {team} as {role}.")


def _registry_team(registry, team: str):
    return get_object_or_404(queries.registry_team_members(registry), team__name=team).team


@require_POST
def registry_team_role(request: HtmxHttpRequest, entity: str, registry: str, team: str) -> HttpResponse:
    registry = queries.registry_for_user(request.user, entity, registry)
    registry_permissions.require_admin(request.user, registry)
    found = _registry_team(registry, team)
    role = request.POST.get("role", "")
    try:
        services.registry_team_member_set(registry=registry, team=found, role=role, actor=request.user)
    except ValidationError as exc:
        return _settings_changed(request, registry, "registry-teams", team_error=" ".join(exc.messages))
    return _settings_changed(request, registry, "registry-teams", f"The team {team} is now {role}.")


@require_POST
def registry_team_remove(request: HtmxHttpRequest, entity: str, registry: str, team: str) -> HttpResponse:
    registry = queries.registry_for_user(request.user, entity, registry)
    registry_permissions.require_admin(request.user, registry)
    services.registry_team_member_remove(registry=registry, team=_registry_team(registry, team), actor=request.user)
    return _settings_changed(request, registry, "registry-teams", f"Removed the team {team} from the registry.")


@require_POST
def registry_protected_alias_add(request: HtmxHttpRequest, entity: str, registry: str) -> HttpResponse:
    registry = queries.registry_for_user(request.user, entity, registry)
    alias = request.POST.get("alias", "").strip()
    try:
        services.registry_protected_alias_add(registry=registry, name=alias, actor=request.user)
    except ValidationError as exc:
        return _settings_changed(
            request, registry, "protected-aliases", alias_error=" ".join(exc.messages), typed_alias=alias
        )
    return _settings_changed(request, registry, "protected-aliases", f"Protected the alias {alias}.")


@require_POST
def registry_protected_alias_remove(request: HtmxHttpRequest, entity: str, registry: str, alias: str) -> HttpResponse:
    registry = queries.registry_for_user(request.user, entity, registry)
    try:
        services.registry_protected_alias_remove(registry=registry, name=alias, actor=request.user)
    except ValidationError as exc:
        return _settings_changed(request, registry, "protected-aliases", alias_error=" ".join(exc.messages))
    return _settings_changed(request, registry, "protected-aliases", f"The alias {alias} is no longer protected.")


# Automations: a team's webhooks (in its settings) and automations (their own pages), or a registry's; their
# admins only. Each view serves both, addressed by team (`entity`) or by organization and registry.


def _scope_context(scope) -> dict:
    """What the automation pages name and link to, for a team or a registry."""
    is_registry = isinstance(scope, Registry)
    return {
        "scope": scope,
        "is_registry": is_registry,
        "scope_label": f"the {scope.name} registry" if is_registry else scope.name,
        "settings_url": reverse("registry:registry_settings", args=[scope.organization.name, scope.name])
        if is_registry
        else reverse("registry:team_detail", args=[scope.name]),
        "list_url": scope_route(scope, "automation_list"),
        "create_url": scope_route(scope, "automation_create"),
        "webhook_create_url": scope_route(scope, "webhook_create"),
    }


@require_GET
def automation_list(request: HtmxHttpRequest, entity: str, registry: str | None = None) -> HttpResponse:
    scope = queries.automation_scope_for_user(request.user, entity, registry)
    context = {
        **_scope_context(scope),
        "automations": queries.automations_of(scope),
        "has_webhooks": queries.webhooks_of(scope).exists(),
    }
    return _render_page(request, "registry/automation_list.html", context, {"automation-table"})


@require_http_methods(["GET", "POST"])
def webhook_create(request: HtmxHttpRequest, entity: str, registry: str | None = None) -> HttpResponse:
    scope = queries.automation_scope_for_user(request.user, entity, registry)
    context = _scope_context(scope)
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        owner = {"registry": scope} if isinstance(scope, Registry) else {"entity": scope}
        try:
            webhook = services.webhook_create(
                **owner,
                name=data["name"],
                url=data["url"],
                secret=data["secret"],
                headers=data["headers"],
                user=request.user,
            )
        except ValidationError as exc:
            for error in exc.messages:
                form.add_error(None, error)
        else:
            message = f"Added the webhook {webhook.name}."
            return _done(request, message, context["settings_url"], "webhooksChanged")
    return render_modal(request, "registry/new_webhook_modal.html", {**context, "form": form}, "new-webhook")


@require_http_methods(["GET", "POST"])
def webhook_edit(request: HtmxHttpRequest, entity: str, pk: int, registry: str | None = None) -> HttpResponse:
    scope = queries.automation_scope_for_user(request.user, entity, registry)
    webhook = get_object_or_404(queries.webhooks_of(scope), pk=pk)
    context = _scope_context(scope)
    form = WebhookEditForm(request.POST or None, initial={"name": webhook.name, "url": webhook.url})
    if request.method == "POST" and form.is_valid():
        try:
            services.webhook_update(webhook=webhook, user=request.user, **form.changes())
        except ValidationError as exc:
            for error in exc.messages:
                form.add_error(None, error)
        else:
            return _done(request, f"Saved the webhook {webhook.name}.", context["settings_url"], "webhooksChanged")
    context |= {
        "form": form,
        "form_action": webhook.route("webhook_edit"),
        "form_title": f"Edit the webhook {webhook.name}",
        "form_submit": "Save webhook",
    }
    return render_modal(request, "registry/new_webhook_modal.html", context, "new-webhook")


@require_http_methods(["GET", "POST"])
def webhook_delete(request: HtmxHttpRequest, entity: str, pk: int, registry: str | None = None) -> HttpResponse:
    scope = queries.automation_scope_for_user(request.user, entity, registry)
    webhook = get_object_or_404(queries.webhooks_of(scope), pk=pk)
    after = _scope_context(scope)["settings_url"]
    errors = []
    if request.method == "POST":
        try:
            services.webhook_delete(webhook=webhook, user=request.user)
        except ValidationError as exc:
            errors = exc.messages
        else:
            return _done(request, f"Deleted the webhook {webhook.name}.", after, "webhooksChanged")
    confirm = {
        "title": f"Delete the webhook {webhook.name}?",
        "body": [f"Automations can no longer send to {webhook.url}."],
        "action": webhook.route("webhook_delete"),
        "button": "Delete webhook",
        "cancel_url": after,
    }
    return render_modal(request, "confirm_modal.html", {"confirm": confirm, "errors": errors}, "confirm")


@require_http_methods(["GET", "POST"])
def automation_create(request: HtmxHttpRequest, entity: str, registry: str | None = None) -> HttpResponse:
    """From the Automations page, or a model card's Create automation (`?model=<name>` picks the model)."""
    scope = queries.automation_scope_for_user(request.user, entity, registry)
    form = AutomationForm(
        request.POST or None,
        initial={"registered_model": request.GET.get("model") or None},
        models=queries.automation_models(scope),
        webhooks=queries.webhooks_of(scope),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        owner = {"registry": scope} if isinstance(scope, Registry) else {"entity": scope}
        try:
            automation = services.automation_create(
                **owner,
                name=data["name"],
                event=data["event"],
                alias_pattern=data["alias_pattern"],
                registered_model=data["registered_model"],
                webhook=data["webhook"],
                payload_template=data["payload_template"],
                user=request.user,
            )
        except ValidationError as exc:
            for error in exc.messages:
                form.add_error(None, error)
        else:
            messages.success(request, f"Created the automation {automation.name}.")
            if request.htmx:
                return HttpResponseClientRedirect(automation.get_absolute_url())
            return redirect(automation.get_absolute_url())
    context = {
        **_scope_context(scope),
        "form": form,
        "variables": automations.VARIABLES,
        "model": request.GET.get("model"),
    }
    return render_modal(request, "registry/new_automation_modal.html", context, "new-automation")


@require_http_methods(["GET", "POST"])
def automation_edit(request: HtmxHttpRequest, entity: str, pk: int, registry: str | None = None) -> HttpResponse:
    """The automation's form again, filled in: the same checks as when it was created."""
    automation = queries.automation_for_user(request.user, entity, pk, registry)
    scope = automation.scope
    registry_permissions.require_admin(request.user, scope)
    form = AutomationForm(
        request.POST or None,
        initial={
            "name": automation.name,
            "event": automation.event,
            "alias_pattern": automation.alias_pattern,
            "registered_model": automation.registered_model.name if automation.registered_model else None,
            "webhook": automation.webhook.name,
            "payload_template": automation.payload_template,
        },
        models=queries.automation_models(scope),
        webhooks=queries.webhooks_of(scope),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.automation_update(automation=automation, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for error in exc.messages:
                form.add_error(None, error)
        else:
            messages.success(request, f"Saved the automation {automation.name}.")
            url = automation.get_absolute_url()
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    context = {
        **_scope_context(scope),
        "form": form,
        "variables": automations.VARIABLES,
        "form_action": automation.route("automation_edit"),
        "form_title": f"Edit {automation.name}",
        "form_submit": "Save automation",
        "cancel_url": automation.get_absolute_url(),
    }
    return render_modal(request, "registry/new_automation_modal.html", context, "new-automation")


@require_GET
def automation_detail(request: HtmxHttpRequest, entity: str, pk: int, registry: str | None = None) -> HttpResponse:
    """An automation and its delivery log, 25 a page; the log refreshes itself while a delivery is under way."""
    automation = queries.automation_for_user(request.user, entity, pk, registry)
    page = Paginator(queries.deliveries_of(automation), queries.DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        **_scope_context(automation.scope),
        "automation": automation,
        "deliveries": page,
        "under_way": any(d.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING) for d in page),
    }
    return _render_page(request, "registry/automation_detail.html", context, {"delivery-log"})


@require_POST
def automation_test(request: HtmxHttpRequest, entity: str, pk: int, registry: str | None = None) -> HttpResponse:
    automation = queries.automation_for_user(request.user, entity, pk, registry)
    services.automation_test(automation=automation, user=request.user)
    message = f"Queued a test payload for {automation.webhook.name}."
    if not request.htmx:
        messages.success(request, message)
        return redirect(automation.get_absolute_url())
    response = HttpResponse(status=204)
    trigger_client_event(response, "showMessage", {"message": message})
    trigger_client_event(response, "deliveriesChanged")
    return response


@require_POST
def automation_enable(request: HtmxHttpRequest, entity: str, pk: int, registry: str | None = None) -> HttpResponse:
    automation = queries.automation_for_user(request.user, entity, pk, registry)
    enabled = request.POST.get("enabled") == "1"
    services.automation_enable(automation=automation, enabled=enabled, user=request.user)
    messages.success(request, f"{'Enabled' if enabled else 'Disabled'} the automation {automation.name}.")
    return redirect(automation.get_absolute_url())


@require_http_methods(["GET", "POST"])
def automation_delete(request: HtmxHttpRequest, entity: str, pk: int, registry: str | None = None) -> HttpResponse:
    automation = queries.automation_for_user(request.user, entity, pk, registry)
    after = _scope_context(automation.scope)["list_url"]
    if request.method == "POST":
        services.automation_delete(automation=automation, user=request.user)
        messages.success(request, f"Deleted the automation {automation.name}.")
        return HttpResponseClientRedirect(after) if request.htmx else redirect(after)
    confirm = {
        "title": f"Delete the automation {automation.name}?",
        "body": ["Its delivery log goes with it; deliveries not yet made are dropped."],
        "action": automation.route("automation_delete"),
        "button": "Delete automation",
        "cancel_url": automation.get_absolute_url(),
    }
    return render_modal(request, "confirm_modal.html", {"confirm": confirm}, "confirm")
