"""Reads that span relations, shaped so templates never query per row."""

from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from artifacts import permissions
from artifacts.models import ApiKey, Artifact, ArtifactAlias, ArtifactUsage, ArtifactVersion, Project, Run
from artifacts.permissions import User


def visible_projects(user: User) -> QuerySet[Project]:
    return (
        Project.objects.filter(permissions.visible_projects_q(user))
        .select_related("entity")
        .annotate(num_runs=Count("runs", distinct=True), num_artifacts=Count("artifacts", distinct=True))
        .order_by("entity__name", "name")
    )


def project_for_user(user: User, entity: str, project: str) -> Project:
    """The project, or 404 when it does not exist or the user may not see it."""
    obj = get_object_or_404(Project.objects.select_related("entity"), entity__name=entity, name=project)
    permissions.require_view_project(user, obj)
    return obj


def runs_of(project: Project) -> QuerySet[Run]:
    return project.runs.select_related("created_by").annotate(
        num_logged=Count("logged_versions", filter=Q(logged_versions__state="COMMITTED"), distinct=True),
        num_used=Count("usages", distinct=True),
    )


def artifacts_of(project: Project) -> QuerySet[Artifact]:
    latest = ArtifactAlias.objects.filter(name="latest").select_related("version")
    return (
        project.artifacts.annotate(
            num_versions=Count("versions", filter=Q(versions__state="COMMITTED")),
        )
        .filter(num_versions__gt=0)
        .prefetch_related(Prefetch("aliases", queryset=latest, to_attr="latest_aliases"))
        .order_by("type", "name")
    )


def _with_aliases(qs: QuerySet[ArtifactVersion]) -> QuerySet[ArtifactVersion]:
    return qs.select_related("artifact__project__entity").prefetch_related("aliases")


def run_for_user(user: User, entity: str, project: str, run_id: str) -> Run:
    run = get_object_or_404(
        Run.objects.select_related("project__entity", "created_by"),
        project__entity__name=entity,
        project__name=project,
        run_id=run_id,
    )
    permissions.require_view_project(user, run.project)
    return run


def versions_logged_by(run: Run) -> QuerySet[ArtifactVersion]:
    return _with_aliases(ArtifactVersion.committed.filter(created_by_run=run)).order_by("artifact__name", "-index")


def versions_used_by(user: User, run: Run) -> QuerySet[ArtifactVersion]:
    """Versions the run consumed that this user may see (they may live in another project)."""
    used = ArtifactUsage.objects.filter(run=run).values("version_id")
    return _with_aliases(
        ArtifactVersion.committed.filter(pk__in=used).filter(
            permissions.visible_projects_q(user, prefix="artifact__project__")
        )
    ).order_by("artifact__name", "-index")


def api_keys_of(user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True)
