"""Compare two versions in the Artifact browser: `.../<name>/compare/v1...v3`, picked in the Versions table."""

import hashlib

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertNotContains

from artifacts import compare
from artifacts.models import Artifact, ArtifactFile, ArtifactVersion, Blob, VersionState
from tests.factories import link, log_version, make_project

URL = "/reviewco/mnist/artifacts/model/mnist_model"


@pytest.fixture
def two(team, project):
    """v0 and v1 of mnist_model: a.txt the same, b.txt changed, c.txt removed, d.txt added; metadata too."""
    old = log_version(
        project,
        files={"a.txt": b"same", "b.txt": b"old bytes", "c.txt": b"gone"},
        metadata={"lr": 0.1, "epochs": 10, "arch": {"layers": 2}, "note": "first"},
    )
    new = log_version(
        project,
        files={"a.txt": b"same", "b.txt": b"new bytes, longer", "d.txt": b"fresh file"},
        metadata={"lr": 0.01, "epochs": 10, "arch": {"layers": 3, "act": "relu"}, "seed": 7},
        aliases=["candidate"],
    )
    link(new, "MNIST-dev")
    return old, new


@pytest.fixture
def member(client, team):
    client.force_login(team.member)
    return client


def _rows(response) -> dict[str, str]:
    return {row["path"]: row["status"] for row in response.context["files"]}


def test_it_shows_each_files_status_sizes_and_delta(member, two):
    r = member.get(f"{URL}/compare/v0...v1")
    assert r.status_code == 200
    assert _rows(r) == {"a.txt": "unchanged", "b.txt": "changed", "c.txt": "removed", "d.txt": "added"}
    deltas = {row["path"]: row["delta"] for row in r.context["files"]}
    assert deltas == {"a.txt": 0, "b.txt": len(b"new bytes, longer") - len(b"old bytes"), "c.txt": -4, "d.txt": 10}
    assert [(f["key"], f["count"]) for f in r.context["filters"]] == [
        ("", 4),
        ("changed", 1),
        ("added", 1),
        ("removed", 1),
        ("unchanged", 1),
    ]
    assertContains(r, '<tr data-status="removed">')
    assertContains(r, "+10B")
    assertContains(r, "−4B")


def test_changed_files_show_both_digests(member, two):
    old, new = two
    r = member.get(f"{URL}/compare/v0...v1")
    old_md5 = old.files.get(path="b.txt").blob.md5
    new_md5 = new.files.get(path="b.txt").blob.md5
    assertContains(r, f"<code>{old_md5}</code> → <code>{new_md5}</code>", html=False)


def test_the_headline_facts_aliases_and_links_of_each_side(member, two):
    old, new = two
    r = member.get(f"{URL}/compare/v0...v1")
    facts = r.content.decode()
    for text in [old.digest, new.digest, "reviewco/mnist/mnist_model:v0", "reviewco/mnist/mnist_model:v1"]:
        assert text in facts
    assert [s.aliases for s in r.context["sides"]] == [[], ["candidate", "latest"]]
    assert [[lk.full_name for lk in s.links] for s in r.context["sides"]] == [
        [],
        ["reviewco/model-registry/MNIST-dev:v0"],
    ]
    assert r.context["size_delta"] == new.size - old.size
    assert r.context["files_delta"] == 0
    assertContains(r, "Swap sides")
    assertContains(r, f'href="{URL}/compare/v1...v0"')


def test_metadata_differs_key_by_key_with_nested_values_as_compact_json(member, two):
    r = member.get(f"{URL}/compare/v0...v1")
    rows = {row["key"]: (row["status"], row["old"], row["new"]) for row in r.context["metadata"]["rows"]}
    assert rows == {
        "arch": ("changed", '{"layers": 2}', '{"act": "relu", "layers": 3}'),
        "lr": ("changed", "0.1", "0.01"),
        "note": ("removed", "first", None),
        "seed": ("added", None, "7"),
    }
    assert r.context["metadata"]["unchanged"] == 1
    assertContains(r, "1 key the same in both.")


def test_swapped_sides_turn_added_into_removed(member, two):
    r = member.get(f"{URL}/compare/v1...v0")
    assert _rows(r) == {"a.txt": "unchanged", "b.txt": "changed", "c.txt": "added", "d.txt": "removed"}


def test_a_status_filter_shows_only_that_status(member, two):
    r = member.get(f"{URL}/compare/v0...v1", {"status": "added"})
    assert _rows(r) == {"d.txt": "added"}
    assertContains(r, 'aria-current="true" data-filter="added"')
    # An unknown status shows every file.
    assert len(_rows(member.get(f"{URL}/compare/v0...v1", {"status": "bogus"}))) == 4


def test_htmx_filtering_answers_the_files_section_only(member, two):
    r = member.get(
        f"{URL}/compare/v0...v1", {"status": "changed"}, headers={"HX-Request": "true", "HX-Target": "compare-files"}
    )
    assertContains(r, '<div id="compare-files">')
    assertNotContains(r, "<html")
    assertNotContains(r, "Metadata")
    assertContains(r, '<tr data-status="changed">', count=1)
    assertNotContains(r, '<tr data-status="added">')
    assert "HX-Request" in r["Vary"]


def bulk_files(version: ArtifactVersion, count: int, *, changed_every: int = 0, prefix: str = "f") -> None:
    """`count` files written in bulk (blobs without bytes): only for page-size tests. Every `changed_every`th file
    gets content of its own (differing from the other version's)."""
    blobs, files = [], []
    for i in range(count):
        content = f"{prefix}{i}-{version.pk}" if changed_every and i % changed_every == 0 else f"{prefix}{i}"
        sha = hashlib.sha256(content.encode()).hexdigest()
        blobs.append(Blob(sha256=sha, md5=sha[:24], size=len(content)))
        files.append(ArtifactFile(version=version, path=f"data/{prefix}{i:05}.bin", blob_id=sha))
    Blob.objects.bulk_create(blobs, ignore_conflicts=True)
    ArtifactFile.objects.bulk_create(files, batch_size=2000)
    ArtifactVersion.objects.filter(pk=version.pk).update(num_files=count)


def bulk_pair(project, name: str, count: int, type: str = "dataset") -> tuple[ArtifactVersion, ArtifactVersion]:
    """Two committed versions of `count` files each: a tenth changed, and a few added and removed."""
    artifact = Artifact.objects.create(project=project, name=name, type=type, next_index=2, num_versions=2)
    old, new = ArtifactVersion.objects.bulk_create(
        ArtifactVersion(artifact=artifact, index=i, state=VersionState.COMMITTED, digest=f"{i:032x}") for i in (0, 1)
    )
    bulk_files(old, count, changed_every=10)
    bulk_files(new, count, changed_every=10)
    bulk_files(old, 3, prefix="gone")
    bulk_files(new, 5, prefix="new")
    return old, new


def test_files_page_by_100_with_counts_from_the_database(member, project):
    bulk_pair(project, "big", 250)
    url = "/reviewco/mnist/artifacts/dataset/big/compare/v0...v1"
    r = member.get(url)
    counts = {f["key"]: f["count"] for f in r.context["filters"]}
    assert counts == {"": 258, "changed": 25, "added": 5, "removed": 3, "unchanged": 225}
    assert len(r.context["files"].object_list) == compare.FILES_PER_PAGE
    assertContains(r, "1 - 100 of 258")
    last = member.get(url, {"page": 3})
    assertContains(last, "201 - 258 of 258")
    changed = member.get(url, {"status": "unchanged", "page": 3})
    assert len(changed.context["files"].object_list) == 25
    assert set(_rows(changed).values()) == {"unchanged"}
    assertContains(changed, 'href="?status=unchanged&amp;page=2"')


def _queries(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in captured.captured_queries]


def test_a_page_costs_the_same_queries_for_20_files_and_for_10000(member, project):
    bulk_pair(project, "small", 20)
    bulk_pair(project, "large", 10_000)
    for params in ["", "?status=changed&page=2", "?status=unchanged&page=50"]:
        small = _queries(member, f"/reviewco/mnist/artifacts/dataset/small/compare/v0...v1{params}")
        large = _queries(member, f"/reviewco/mnist/artifacts/dataset/large/compare/v0...v1{params}")
        assert len(small) == len(large), (params, small, large)
    r = member.get("/reviewco/mnist/artifacts/dataset/large/compare/v0...v1?status=changed")
    assert r.context["files"].paginator.count == 1000


def test_the_versions_table_offers_compare_selected(member, two):
    r = member.get(URL)
    assertContains(r, f'<form id="compare-form" class="compare-form" method="get" action="{URL}/compare"')
    assertContains(r, '<input type="checkbox" name="v" value="1" form="compare-form" aria-label="Compare v1">')
    assertContains(r, '<input type="checkbox" name="v" value="0" form="compare-form" aria-label="Compare v0">')


def test_a_single_version_offers_no_compare(member, project):
    log_version(project)
    assertNotContains(member.get(URL), "compare-form")


def test_picking_two_goes_to_the_compare_page_older_first(member, two):
    r = member.get(f"{URL}/compare", {"v": ["1", "0"]})
    assert r.status_code == 302
    assert r["Location"] == f"{URL}/compare/v0...v1"


def test_picking_with_htmx_navigates_to_the_compare_page(member, two):
    r = member.get(f"{URL}/compare", {"v": ["v0", "v1"]}, headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert r["HX-Redirect"] == f"{URL}/compare/v0...v1"


@pytest.mark.parametrize(
    ("picked", "reason"),
    [
        ([], "Tick two different versions to compare."),
        (["1"], "Tick two different versions to compare."),
        (["1", "1"], "Tick two different versions to compare."),
        (["0", "1", "2"], "Tick two different versions to compare."),
        (["0", "7"], "mnist_model has no version v7."),
        (["0", "latest"], "“latest” is not a version"),
    ],
)
def test_a_bad_pick_is_400_saying_why(member, two, picked, reason):
    r = member.get(f"{URL}/compare", {"v": picked})
    assert r.status_code == 400
    assertContains(r, reason, status_code=400)
    assertContains(r, f'href="{URL}"', status_code=400)


def test_a_bad_pick_with_htmx_shows_the_reason_in_the_form(member, two):
    r = member.get(f"{URL}/compare", {"v": ["1"]}, headers={"HX-Request": "true"})
    assert r.status_code == 200
    assertContains(r, '<form id="compare-form"')
    assertContains(r, '<p class="errorlist" role="alert">Tick two different versions to compare.</p>')
    assertNotContains(r, "<html")


def test_a_version_of_another_artifact_is_not_a_version_of_this_one(member, two, project):
    log_version(project, "other_model")
    log_version(project, "other_model")
    log_version(project, "other_model")
    r = member.get(f"{URL}/compare", {"v": ["0", "2"]})
    assertContains(r, "mnist_model has no version v2.", status_code=400)
    r = member.get(f"{URL}/compare/v0...v2")
    assertContains(r, "mnist_model has no version v2.", status_code=404)


def test_the_same_version_twice_is_refused_with_a_reason(member, two):
    r = member.get(f"{URL}/compare/v1...v1")
    assertContains(r, "Pick two different versions: v1...v1 compares v1 with itself.", status_code=400)


def test_an_unknown_version_is_404_saying_which(member, two):
    r = member.get(f"{URL}/compare/v0...v9")
    assertContains(r, "mnist_model has no version v9.", status_code=404)
    # Past any column's range: still a 404, not a database error.
    huge = 10**30
    assertContains(member.get(f"{URL}/compare/v0...v{huge}"), f"no version v{huge}.", status_code=404)


def test_outsiders_get_404_for_a_private_project(client, team, two):
    client.force_login(team.outsider)
    for url in [f"{URL}/compare/v0...v1", f"{URL}/compare?v=0&v=1"]:
        r = client.get(url)
        assert r.status_code == 404
        assertNotContains(r, "mnist_model", status_code=404)


def test_viewers_compare_and_anyone_compares_in_a_public_project(client, team, two):
    client.force_login(team.viewer)
    assert client.get(f"{URL}/compare/v0...v1").status_code == 200
    public = make_project(team.entity, "open", public=True)
    log_version(public, "m", files={"x": b"1"})
    log_version(public, "m", files={"x": b"2"})
    r = Client().get("/reviewco/open/artifacts/model/m/compare/v0...v1")
    assert r.status_code == 200
    assert _rows(r) == {"x": "changed"}


def test_reference_entries_are_compared_by_their_recorded_digest(member, two):
    from artifacts.models import ArtifactReference

    old, new = two

    def refs(version, entries):
        ArtifactReference.objects.bulk_create(
            ArtifactReference(version=version, path=path, ref=ref, digest=digest, size=size)
            for path, (ref, digest, size) in entries.items()
        )

    refs(old, {"s3/a": ("s3://b/a", "d-a", 5), "s3/b": ("s3://b/b1", "d-b1", 10), "s3/c": ("s3://b/c", "d-c", 3)})
    refs(new, {"s3/a": ("s3://b/a", "d-a", 5), "s3/b": ("s3://b/b2", "d-b2", 12), "s3/d": ("s3://b/d", "d-d", 7)})
    r = member.get(f"{URL}/compare/v0...v1")
    statuses = {row["path"]: row["status"] for row in r.context["references"]}
    assert statuses == {"s3/a": "unchanged", "s3/b": "changed", "s3/c": "removed", "s3/d": "added"}
    assert {row["path"]: row["delta"] for row in r.context["references"]}["s3/b"] == 2
    assert r.context["reference_counts"] == [("changed", 1), ("added", 1), ("removed", 1), ("unchanged", 1)]
    assertContains(r, "<code>s3://b/b1</code> → <code>s3://b/b2</code>", html=True)
    # The files are unaffected by the references.
    assert _rows(r) == {"a.txt": "unchanged", "b.txt": "changed", "c.txt": "removed", "d.txt": "added"}
    fragment = member.get(
        f"{URL}/compare/v0...v1", {"rpage": 1}, headers={"HX-Request": "true", "HX-Target": "compare-references"}
    )
    assertContains(fragment, 'id="compare-references"')
    assertNotContains(fragment, 'id="compare-files"')


def test_versions_without_references_have_no_references_section(member, two):
    r = member.get(f"{URL}/compare/v0...v1")
    assert r.context["references"] is None
    assertNotContains(r, "compare-references-heading")
