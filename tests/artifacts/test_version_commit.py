"""Logging in three steps (create, add files, commit), as the W&B SDK does."""

import hashlib
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from artifacts import services, storage
from artifacts.models import ArtifactAlias, ArtifactVersion
from tests.factories import log_version, make_run, snapshot


def digest_of(files: dict[str, bytes]) -> str:
    return storage.manifest_digest({p: storage.b64_md5(hashlib.md5(b).digest()) for p, b in files.items()})


def create(project, user, files, name="cnn", aliases=()):
    run = make_run(project)
    return services.version_create(
        run=run, user=user, name=name, type="model", digest=digest_of(files), aliases=aliases
    )


def test_a_pending_version_is_invisible_until_committed(team, project):
    files = {"model.pt": b"weights"}
    result = create(project, team.member, files, aliases=["best"])
    version = result.version
    assert result.created and not version.is_committed and version.index is None
    assert not ArtifactVersion.committed.filter(pk=version.pk).exists()
    assert not ArtifactAlias.objects.exists()
    services.version_file_add(
        version=version, path="model.pt", blob=storage.blob_store(io.BytesIO(b"weights")), user=team.member
    )
    committed = services.version_commit(version=version, user=team.member)
    assert committed.is_committed and committed.label == "v0"
    assert (committed.size, committed.num_files) == (7, 1)
    assert set(committed.aliases.values_list("name", flat=True)) == {"latest", "best"}
    assert services.version_commit(version=committed, user=team.member) == committed


def test_creating_with_an_existing_digest_returns_the_committed_version(team, project):
    existing = log_version(project, "cnn", content=b"weights")
    result = create(project, team.member, {"model.pt": b"weights"}, aliases=["best"])
    assert not result.created
    assert result.version == existing
    assert existing.aliases.filter(name="best").exists()


def test_files_that_do_not_match_the_digest_cannot_commit(team, project):
    version = create(project, team.member, {"model.pt": b"weights"}).version
    services.version_file_add(
        version=version, path="model.pt", blob=storage.blob_store(io.BytesIO(b"other")), user=team.member
    )
    with pytest.raises(ValidationError, match="does not match"):
        services.version_commit(version=version, user=team.member)
    version.refresh_from_db()
    assert not version.is_committed


def test_a_version_missing_its_files_cannot_commit_but_an_empty_one_can(team, project):
    version = create(project, team.member, {"model.pt": b"weights"}).version
    with pytest.raises(ValidationError, match="does not match the version's digest"):
        services.version_commit(version=version, user=team.member)
    # W&B allows artifacts without files: the digest of an empty manifest.
    empty = services.version_create(
        run=make_run(project), user=team.member, name="empty", type="dataset", digest=storage.manifest_digest({})
    ).version
    committed = services.version_commit(version=empty, user=team.member)
    assert (committed.is_committed, committed.index, committed.num_files, committed.size) == (True, 0, 0, 0)


def test_a_committed_version_takes_no_new_files(team, project):
    version = log_version(project, "cnn", content=b"weights")
    before = snapshot()
    with pytest.raises(ValidationError, match="cannot change"):
        services.version_file_add(version=version, path="extra.bin", blob=version.files.get().blob, user=team.member)
    assert snapshot() == before


def test_a_race_to_commit_the_same_content_keeps_one_version(team, project):
    files = {"model.pt": b"weights"}
    a = create(project, team.member, files).version
    b = create(project, team.member, files, aliases=["best"]).version
    blob = storage.blob_store(io.BytesIO(b"weights"))
    for v in (a, b):
        services.version_file_add(version=v, path="model.pt", blob=blob, user=team.member)
    first = services.version_commit(version=a, user=team.member)
    second = services.version_commit(version=b, user=team.member)
    assert second == first
    assert list(ArtifactVersion.committed.filter(artifact=first.artifact)) == [first]
    assert first.aliases.filter(name="best").exists()
    # The loser stays as an invisible pointer: a client holding its id is sent to the winner.
    b.refresh_from_db()
    assert (b.state, b.duplicate_of, b.files.count()) == ("PENDING", first, 0)
    assert services.version_commit(version=b, user=team.member) == first


def test_a_viewer_cannot_create_a_version(team, project):
    run = make_run(project)
    with pytest.raises(PermissionDenied):
        services.version_create(run=run, user=team.viewer, name="cnn", type="model", digest="0" * 32)


def test_a_malformed_digest_is_rejected(team, project):
    run = make_run(project)
    before = snapshot()
    with pytest.raises(ValidationError, match="32 hex"):
        services.version_create(run=run, user=team.member, name="cnn", type="model", digest="xyz")
    assert snapshot() == before


def _increment(project, user, files: dict[str, bytes], base):
    """A pending version of `files` only (created with their digest, as the SDK does), adding to `base`."""
    digest = storage.manifest_digest(
        {path: storage.b64_md5(hashlib.md5(data).digest()) for path, data in files.items()}
    )
    version = services.version_create(
        run=make_run(project), user=user, name=base.artifact.name, type=base.artifact.type, digest=digest
    ).version
    for path, data in files.items():
        services.version_file_add(version=version, path=path, blob=storage.blob_store(io.BytesIO(data)), user=user)
    services.version_base_set(version=version, base=base, user=user)
    return version


def test_an_increment_merges_its_base_at_commit_and_then_no_longer_depends_on_it(team, project):
    base = log_version(project, "ds", type="dataset", files={"a.txt": b"a", "b.txt": b"b"})
    committed = services.version_commit(
        version=_increment(project, team.member, {"b.txt": b"B", "c.txt": b"c"}, base), user=team.member
    )
    assert committed.base is None
    assert dict(committed.files.values_list("path", "blob__size")) == {"a.txt": 1, "b.txt": 1, "c.txt": 1}
    assert committed.files.get(path="b.txt").blob.md5 == storage.b64_md5(hashlib.md5(b"B").digest())
    # Deleting the base later leaves the merged version whole.
    services.version_delete(version=base, user=team.admin)
    assert ArtifactVersion.objects.get(pk=committed.pk).files.count() == 3


def test_deleting_the_base_deletes_the_increments_still_pending_on_it(team, project):
    base = log_version(project, "ds", type="dataset", files={"a.txt": b"a"})
    pending = _increment(project, team.member, {"c.txt": b"c"}, base)
    services.version_delete(version=base, user=team.admin)
    assert not ArtifactVersion.objects.filter(pk=pending.pk).exists()
