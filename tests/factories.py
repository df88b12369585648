"""Plain helpers with defaults; every write goes through the services, as in the product."""

import io

from django.contrib.auth import get_user_model

from artifacts import services
from artifacts.models import ArtifactVersion, Entity, Project, Role, Run
from registry import services as registry_services
from registry.models import Link

PASSWORD = "correct horse battery staple"


def make_user(username: str, *, superuser: bool = False):
    User = get_user_model()
    if superuser:
        return User.objects.create_superuser(username=username, password=PASSWORD, email=f"{username}@example.com")
    return User.objects.create_user(username=username, password=PASSWORD, email=f"{username}@example.com")


def make_entity(name: str, *, admin=(), member=(), viewer=(), protected=()) -> Entity:
    entity = services.entity_create(name=name)
    for role, users in ((Role.ADMIN, admin), (Role.MEMBER, member), (Role.VIEWER, viewer)):
        for user in users:
            services.membership_set(entity=entity, user=user, role=role)
    if protected:
        entity.protected_aliases = list(protected)
        entity.save(update_fields=["protected_aliases"])
    return entity


def _actor(entity: Entity):
    return entity.memberships.filter(role=Role.ADMIN).first().user


def make_project(entity: Entity, name: str = "mnist", *, public: bool = False) -> Project:
    return services.project_get_or_create(entity=entity, name=name, user=_actor(entity), is_public=public)


def make_run(project: Project, run_id: str | None = None, **fields) -> Run:
    return services.run_create(project=project, user=_actor(project.entity), run_id=run_id, **fields)


def log_version(
    project: Project,
    name: str = "mnist_model",
    *,
    type: str = "model",
    content: bytes | None = None,
    files: dict[str, bytes] | None = None,
    run: Run | None = None,
    aliases=(),
    metadata=None,
) -> ArtifactVersion:
    run = run or make_run(project)
    if files is None:
        files = {"model.pt": content if content is not None else f"{name}-{Run.objects.count()}".encode()}
    return services.version_log(
        run=run,
        user=_actor(project.entity),
        name=name,
        type=type,
        files={path: io.BytesIO(data) for path, data in files.items()},
        aliases=aliases,
        metadata=metadata,
    ).version


def link(version: ArtifactVersion, registered_model_name: str = "MNIST-dev", *, aliases=()) -> Link:
    entity = version.artifact.project.entity
    return registry_services.link_version(
        version=version,
        user=_actor(entity),
        entity=entity,
        registered_model_name=registered_model_name,
        aliases=aliases,
    ).link


def snapshot() -> dict[str, int]:
    """Row counts of every table the domain writes, to show that a failed call wrote nothing."""
    from artifacts import models as a
    from registry import models as r

    tables = [
        a.Entity,
        a.Membership,
        a.Project,
        a.Run,
        a.DeletedRun,
        a.RunTag,
        a.HistoryRow,
        a.Blob,
        a.Artifact,
        a.ArtifactVersion,
        a.VersionClientId,
        a.ArtifactFile,
        a.StagedUpload,
        a.VersionTag,
        a.ArtifactAlias,
        a.ArtifactUsage,
        a.ArtifactOutput,
        a.ApiKey,
        r.Registry,
        r.RegistryMember,
        r.RegistryTeamMember,
        r.RegisteredModel,
        r.Link,
        r.LinkAlias,
        a.Event,
    ]
    return {m.__name__: m.objects.count() for m in tables}


def bulk_versions(project: Project, name: str, count: int, *, link_to: str | None = None, start: int = 0) -> None:
    """Many committed versions (and links) written in bulk: only for page-size tests, where what matters is
    the number of rows a page reads, not how they got there."""
    from django.db.models import F

    from artifacts.models import Artifact, ArtifactAlias, ArtifactFile, ArtifactVersion, VersionState
    from registry.models import LinkAlias, RegisteredModel

    artifact, _ = Artifact.objects.get_or_create(project=project, name=name, defaults={"type": "model"})
    blob = ArtifactFile.objects.select_related("blob").first().blob
    versions = ArtifactVersion.objects.bulk_create(
        ArtifactVersion(
            artifact=artifact,
            index=start + i,
            state=VersionState.COMMITTED,
            digest=f"{start + i:032x}",
            num_files=1,
            size=blob.size,
            metadata={"step": i, "nested": {"a": i}},
        )
        for i in range(count)
    )
    Artifact.objects.filter(pk=artifact.pk).update(
        next_index=F("next_index") + count, num_versions=F("num_versions") + count
    )
    ArtifactFile.objects.bulk_create(ArtifactFile(version=v, path="model.pt", blob=blob) for v in versions)
    ArtifactAlias.objects.bulk_create(ArtifactAlias(artifact=artifact, version=v, name=f"b{v.index}") for v in versions)
    if link_to:
        rm = RegisteredModel.objects.get(entity=project.entity, name=link_to)
        first = rm.next_index
        links = Link.objects.bulk_create(
            Link(registered_model=rm, index=first + i, source=v) for i, v in enumerate(versions)
        )
        RegisteredModel.objects.filter(pk=rm.pk).update(
            next_index=first + count, num_versions=F("num_versions") + count
        )
        LinkAlias.objects.bulk_create(LinkAlias(registered_model=rm, link=lk, name=f"l{lk.index}") for lk in links)
