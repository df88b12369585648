import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertNotContains

from registry import services
from registry.models import Link, LinkAlias, RegisteredModel
from tests.factories import bulk_versions, link, log_version, make_entity, make_project, snapshot

HX = {"HX-Request": "true"}
LIST = "/registry/model"
MNIST = "/registry/model/reviewco/MNIST-dev"
RAC = "/registry/model/reviewco/Fine-Tuned-Review-Autocompletion"


@pytest.fixture
def member(client, demo):
    client.force_login(demo.member)
    return client


def test_the_list_shows_name_tags_versions_latest_and_updated(member):
    r = member.get(LIST)
    for column in ["Tags", "Versions", "Latest version"]:
        assertContains(r, f">{column}</th>")
    for sortable in ["Name", "Last updated"]:
        assertContains(r, f">{sortable}</a></th>")
    rows = {rm.name: rm for rm in r.context["page"]}
    assert rows["Fine-Tuned-Review-Autocompletion"].num_versions == 3
    assert [a.link.index for a in rows["Fine-Tuned-Review-Autocompletion"].latest_aliases] == [2]
    assertContains(r, '<span class="tag">nlp</span>', html=True)


def test_members_get_a_named_three_dot_button_with_link_new_version(member):
    r = member.get(LIST)
    assertContains(r, 'aria-label="More actions for MNIST-dev"')
    assertContains(r, "Link new version")
    assertNotContains(r, ">Delete<")


def test_members_may_edit_the_model_card_and_are_offered_it_in_both_places(member):
    """The same rule everywhere: whoever may change the card (members and admins) sees the same action."""
    assertContains(member.get(LIST), "Edit model card")
    assertContains(member.get(MNIST), "Edit model card")
    assert member.post(f"{MNIST}/card", {"description": "Edited by a member"}).status_code in (200, 302)


def test_admins_also_get_edit_and_delete(client, demo):
    client.force_login(demo.admin)
    r = client.get(LIST)
    assertContains(r, "Edit model card")
    assertContains(r, ">Delete<")


def test_viewers_see_models_but_no_actions(client, demo):
    client.force_login(demo.viewer)
    r = client.get(LIST)
    assertContains(r, "MNIST-dev")
    assertNotContains(r, "More actions for")
    assertNotContains(r, "New registered model")


def test_outsiders_see_nothing_of_another_entity(client, demo):
    client.force_login(demo.outsider)
    r = client.get(LIST)
    assertNotContains(r, "MNIST-dev")
    assert client.get(MNIST).status_code == 404
    assert client.get(f"{MNIST}/v0").status_code == 404


def test_search_filters_as_a_plain_get_and_as_a_fragment(member):
    r = member.get(LIST, {"q": "autocompl"})
    assert [rm.name for rm in r.context["page"]] == ["Fine-Tuned-Review-Autocompletion"]
    assertContains(r, "<html")
    r = member.get(LIST, {"q": "vision"}, headers={**HX, "HX-Target": "model-table"})
    assertContains(r, ">MNIST-dev</a>")
    assertNotContains(r, ">Fine-Tuned-Review-Autocompletion</a>")
    assertNotContains(r, "<html")
    assertContains(r, 'id="model-table"')
    r = member.get(LIST, {"q": "nothing-like-this"})
    assertContains(r, "No registered model matches")


def test_the_empty_state_explains_how_to_start_with_this_servers_url(client, team):
    client.force_login(team.member)
    r = client.get(LIST)
    assertContains(r, "WANDB_BASE_URL=http://testserver")
    assertContains(r, "run.link_model(")
    assertContains(r, "/&lt;entity&gt;/&lt;project&gt;/artifacts")


def test_long_lists_page_by_50(member, demo):
    for i in range(55):
        services.registered_model_create(entity=demo.entity, name=f"m-{i:02}", user=demo.member)
    r = member.get(LIST)
    assert len(r.context["page"].object_list) == 50
    assert len(member.get(LIST, {"page": 2}).context["page"].object_list) == 7


def test_the_list_uses_the_same_number_of_queries_at_5_and_at_500(client, team, project, django_assert_num_queries):
    client.force_login(team.member)

    def grow(n, start):
        for i in range(start, start + n):
            rm = services.registered_model_create(
                entity=team.entity, name=f"model-{i:03}", user=team.member, tags=["x"]
            )
            link(log_version(project, f"a-{i:03}", content=f"{i}".encode()), rm.name)

    grow(5, 0)
    client.get(LIST)
    with CaptureQueriesContext(connection) as small:
        client.get(LIST)
    RegisteredModel.objects.bulk_create(
        RegisteredModel(entity=team.entity, name=f"bulk-{i:03}", tags=["y"]) for i in range(495)
    )
    with django_assert_num_queries(len(small.captured_queries)):
        client.get(LIST)


def test_the_list_reads_its_page_by_an_index_however_many_models_a_team_has(client, team):
    """With statistics that say every model belongs to the one team, SQLite must still read the first 50 by the
    sort's index, not read every model of the team and sort them (it did while the entity was joined)."""
    client.force_login(team.member)
    RegisteredModel.objects.bulk_create(
        RegisteredModel(entity=team.entity, name=f"bulk-{i:04}", tags=["y"]) for i in range(2000)
    )
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    for sort in ("updated", "name"):
        with CaptureQueriesContext(connection) as page:
            assert client.get(LIST, {"sort": sort}).status_code == 200
        [listed] = [q["sql"] for q in page.captured_queries if re.search(r"ORDER BY .*LIMIT 50\b", q["sql"])]
        assert 'FROM "registry_registeredmodel"' in listed and "JOIN" not in listed
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN QUERY PLAN " + listed)
                plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
            assert "TEMP B-TREE" not in plan and "USING INDEX" in plan, plan


def test_new_registered_model_shows_field_errors_in_place_and_writes_nothing(member):
    r = member.get("/registry/model/new", headers={**HX, "HX-Target": "modal-root"})
    for label in ["Owning Entity", "Name", "Type", "Description", "Tags"]:
        assertContains(r, f">{label}</label>")
    assertContains(r, "Register model")
    before = snapshot()
    r = member.post("/registry/model/new", {"entity": "reviewco", "name": "bad name", "type": "model"}, headers=HX)
    assert r.status_code == 200
    assertContains(r, "Invalid registered model name")
    assertNotContains(r, "<dialog")
    r = member.post("/registry/model/new", {"entity": "reviewco", "name": "MNIST-dev", "type": "model"}, headers=HX)
    assertContains(r, "already exists")
    assert snapshot() == before


def test_new_registered_model_success_goes_to_the_model(member):
    r = member.post(
        "/registry/model/new",
        {"entity": "reviewco", "name": "Speech-v2", "type": "model", "description": "# Hi", "tags": "audio, asr"},
        headers=HX,
    )
    assert r.status_code == 200
    assert r["HX-Redirect"] == "/registry/model/reviewco/Speech-v2"
    rm = RegisteredModel.objects.get(name="Speech-v2")
    assert (rm.tags, rm.created_by.username) == (["audio", "asr"], "bob")


def test_a_viewer_cannot_register_a_model(client, demo):
    client.force_login(demo.viewer)
    assert client.get("/registry/model/new").status_code == 403
    assert client.post("/registry/model/new", {"entity": "reviewco", "name": "X", "type": "model"}).status_code == 403
    assert not RegisteredModel.objects.filter(name="X").exists()


def test_owning_entity_offers_only_entities_where_the_user_may_create(client, demo):
    make_entity("readonlyco", viewer=[demo.member])
    client.force_login(demo.member)
    r = client.post("/registry/model/new", {"entity": "readonlyco", "name": "X", "type": "model"})
    assertContains(r, "Select a valid choice")
    assert not RegisteredModel.objects.filter(name="X").exists()


def _cascade(client, **params):
    return client.get(f"{RAC}/link", params, headers={**HX, "HX-Target": "link-form"})


def options(response, name: str) -> list[str]:
    """The labels of a <select>'s options, read from the HTML."""
    html = response.content.decode()
    select = re.search(rf'<select[^>]*name="{name}".*?</select>', html, re.S).group(0)
    return [o.strip() for o in re.findall(r"<option[^>]*>(.*?)</option>", select, re.S)][1:]


def test_the_cascade_project_then_artifact_then_versions_newest_first(member, demo):
    make_project(demo.entity, "empty-project")
    r = member.get(f"{RAC}/link", headers={**HX, "HX-Target": "modal-root"})
    assertContains(r, "<dialog")
    for label in ["Project", "Model Artifact", "Version"]:
        assertContains(r, f">{label}</label>")
    assert options(r, "project") == ["mnist", "review-autocompletion"]
    r = _cascade(member, project="review-autocompletion")
    assertNotContains(r, "<dialog")
    assert options(r, "artifact") == ["review-autocompletion-model"]
    assert options(r, "version") == []
    r = _cascade(member, project="review-autocompletion", artifact="review-autocompletion-model")
    assert options(r, "version") == ["v3 (latest)", "v2", "v1", "v0"]


def test_changing_the_project_resets_artifact_and_version(member):
    r = _cascade(member, project="mnist")
    assert options(r, "artifact") == ["mnist_model"]
    assert "selected>mnist_model" not in r.content.decode()
    assert options(r, "version") == []
    assert _cascade(member, project="mnist", artifact="review-autocompletion-model").status_code == 404


def test_link_new_version_links_the_next_version_and_confirms(member):
    before = snapshot()
    r = member.post(
        f"{RAC}/link",
        {"project": "review-autocompletion", "artifact": "review-autocompletion-model", "version": "3"},
        headers=HX,
    )
    assert r.status_code == 204
    events = json.loads(r["HX-Trigger"])
    assert events["showMessage"]["message"] == (
        "Linked review-autocompletion-model:v3 as Fine-Tuned-Review-Autocompletion:v3"
    )
    assert "registryChanged" in events and "closeModal" in events
    new = Link.objects.get(registered_model__name="Fine-Tuned-Review-Autocompletion", index=3)
    assert LinkAlias.objects.get(registered_model=new.registered_model, name="latest").link == new
    assert snapshot()["Link"] == before["Link"] + 1


def test_link_new_version_errors_show_in_the_dialog_and_write_nothing(member):
    before = snapshot()
    data = {"project": "review-autocompletion", "artifact": "review-autocompletion-model", "version": "3"}
    r = member.post(f"{RAC}/link", {**data, "aliases": "production"}, headers=HX)
    assert r.status_code == 200
    assertContains(r, "protected")
    r = member.post(f"{RAC}/link", {**data, "version": ""}, headers=HX)
    assertContains(r, "This field is required")
    r = member.post(f"{RAC}/link", {**data, "version": "9"}, headers=HX)
    assertContains(r, "Select a valid choice")
    assert snapshot() == before


def test_link_new_version_is_403_for_viewers(client, demo):
    client.force_login(demo.viewer)
    assert client.get(f"{RAC}/link").status_code == 403
    data = {"project": "review-autocompletion", "artifact": "review-autocompletion-model", "version": "3"}
    assert client.post(f"{RAC}/link", data).status_code == 403
    assert not Link.objects.filter(index=3).exists()


def test_link_new_version_needs_csrf(demo):
    client = Client(enforce_csrf_checks=True)
    client.force_login(demo.member)
    data = {"project": "review-autocompletion", "artifact": "review-autocompletion-model", "version": "3"}
    assert client.post(f"{RAC}/link", data).status_code == 403


def test_the_model_card_renders_markdown_safely(member, demo):
    rm = RegisteredModel.objects.get(name="MNIST-dev")
    evil = "# Title\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>"
    r = member.post(f"{MNIST}/card", {"description": evil}, headers=HX)
    rendered = re.search(r'<div class="markdown">(.*?)</div>', r.content.decode(), re.S).group(1)
    assert "<h1>Title</h1>" in rendered
    # Raw HTML and javascript: links stay text, never elements or attributes.
    for bad in ["<script", 'href="javascript:', "<img"]:
        assert bad not in rendered
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered
    assertNotContains(r, "<script>")
    rm.refresh_from_db()
    assert rm.description == evil


def test_the_details_page_has_the_model_card_and_versions(member):
    r = member.get(RAC)
    assertContains(r, "Model card")
    assertContains(r, "<h1>Fine-Tuned Review Autocompletion</h1>", html=True)
    for column in ["Version", "Aliases", "Source Version", "Linked At", "Linked By"]:
        assertContains(r, f">{column}</th>")
    assertContains(r, "review-autocompletion-model:v2")
    assertContains(r, f'href="{RAC}/v2"')


def test_tags_add_and_remove(member):
    r = member.post(f"{MNIST}/tags", {"tag": "cnn"}, headers=HX)
    assertContains(r, 'id="model-tags"')
    assert RegisteredModel.objects.get(name="MNIST-dev").tags == ["vision", "cnn"]
    before = snapshot()
    r = member.post(f"{MNIST}/tags", {"tag": "bad tag"}, headers=HX)
    assertContains(r, "Invalid tag")
    assert RegisteredModel.objects.get(name="MNIST-dev").tags == ["vision", "cnn"]
    assert snapshot() == before
    member.post(f"{MNIST}/tags/vision/delete", headers=HX)
    assert RegisteredModel.objects.get(name="MNIST-dev").tags == ["cnn"]


def test_a_viewer_cannot_edit_the_card_or_tags(client, demo):
    client.force_login(demo.viewer)
    assert client.post(f"{MNIST}/card", {"description": "x"}).status_code == 403
    assert client.post(f"{MNIST}/tags", {"tag": "x"}).status_code == 403
    r = client.get(MNIST)
    assertNotContains(r, "Edit model card")
    assertNotContains(r, "Link new version")


@pytest.mark.parametrize("tab", ["version", "metadata", "usage", "files", "lineage"])
def test_the_version_panel_tabs(member, tab):
    r = member.get(f"{MNIST}/v0/{tab}")
    assert r.status_code == 200
    assert r.context["panel"].tab == tab
    assertContains(r, "reviewco/model-registry/MNIST-dev:v0")


def test_the_version_overview_shows_source_version(member):
    r = member.get(f"{MNIST}/v0")
    for label in ["Full Name", "Aliases", "Digest", "Created By", "Created At", "Num Consumers", "Num Files", "Size"]:
        assertContains(r, f"<dt>{label}</dt>", html=True)
    assertContains(r, "<dt>Source Version</dt>", html=True)
    assertContains(r, '<a href="/reviewco/mnist/artifacts/model/mnist_model/v0">mnist_model:v0</a>', html=True)
    assertNotContains(r, "<dt>Linked To</dt>", html=True)


def test_the_panel_is_a_fragment_for_htmx(member):
    r = member.get(f"{MNIST}/v0/files", headers={**HX, "HX-Target": "detail-panel"})
    assertNotContains(r, "<html")
    assertContains(r, 'id="detail-panel"')
    assertContains(r, "model.pt")


def test_usage_uses_the_registry_name_and_this_server(member):
    r = member.get(f"{MNIST}/v0/usage")
    assertContains(r, "run.use_model(&quot;reviewco/model-registry/MNIST-dev:v0&quot;)")
    assertContains(r, "wandb.Api().artifact(&quot;reviewco/model-registry/MNIST-dev:v0&quot;)")
    assertContains(r, "WANDB_BASE_URL=http://testserver")


def test_registry_aliases_add_and_remove_and_protected_ones_are_marked(member, demo):
    r = member.post(f"{MNIST}/v0/aliases", {"alias": "staging"}, headers=HX)
    assertContains(r, "staging")
    assert LinkAlias.objects.filter(name="staging").exists()
    member.post(f"{MNIST}/v0/aliases/staging/delete", headers=HX)
    assert not LinkAlias.objects.filter(name="staging").exists()
    r = member.post(f"{MNIST}/v0/aliases", {"alias": "production"}, headers=HX)
    assertContains(r, "protected")
    assert not LinkAlias.objects.filter(registered_model__name="MNIST-dev", name="production").exists()
    r = member.get(f"{RAC}/v1")
    assertContains(r, 'class="alias protected"')
    assertNotContains(r, "Remove alias production")


def test_an_admin_removes_a_protected_alias(client, demo):
    client.force_login(demo.admin)
    r = client.get(f"{RAC}/v1")
    assertContains(r, "Remove alias production")
    client.post(f"{RAC}/v1/aliases/production/delete", headers=HX)
    assert not LinkAlias.objects.filter(name="production").exists()


@pytest.mark.parametrize("suffix", ["", "/v0", "/v0/usage", "/v0/lineage", "/v0/files"])
def test_registry_pages_use_the_same_number_of_queries_at_5_and_at_500(
    client, team, project, suffix, django_assert_num_queries
):
    client.force_login(team.member)
    for i in range(5):
        link(log_version(project, "cnn", content=f"{i}".encode()), "Grown", aliases=[f"a{i}"])
    url = f"/registry/model/reviewco/Grown{suffix}"
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    bulk_versions(project, "bulk", 495, link_to="Grown")
    with django_assert_num_queries(len(small.captured_queries)):
        client.get(url)


def test_only_admins_delete_a_registered_model(client, demo):
    client.force_login(demo.member)
    assert client.post(f"{MNIST}/delete").status_code == 403
    client.force_login(demo.admin)
    r = client.post(f"{MNIST}/delete", headers=HX)
    assert r["HX-Redirect"] == LIST
    assert not RegisteredModel.objects.filter(name="MNIST-dev").exists()


def test_without_javascript_show_choices_posts_and_links_nothing(member):
    before = snapshot()
    r = member.post(f"{RAC}/link", {"project": "review-autocompletion", "refresh": "1"})
    assert r.status_code == 200
    assert options(r, "artifact") == ["review-autocompletion-model"]
    assertNotContains(r, "errorlist")
    assert snapshot() == before


def test_edit_from_the_menu_opens_the_card_editor(member):
    r = member.get(f"{MNIST}?edit=card")
    assertContains(r, '<details class="edit-description" open>')


def test_anonymous_visitors_are_asked_to_sign_in(client, demo):
    r = client.get(LIST)
    assertContains(r, "to see your team's registered models")
    assertNotContains(r, "MNIST-dev")


def test_a_registered_models_type_is_read_only_in_the_admin(client, demo):
    from tests.factories import make_user

    root = make_user("root", superuser=True)
    client.force_login(root)
    rm = RegisteredModel.objects.get(name="MNIST-dev")
    r = client.get(f"/admin/registry/registeredmodel/{rm.pk}/change/")
    assertNotContains(r, 'name="type"')


def test_deleting_shows_a_confirmation_on_the_next_page(client, demo):
    client.force_login(demo.admin)
    r = client.post(f"{MNIST}/delete", headers=HX)
    r = client.get(r["HX-Redirect"])
    assertContains(r, "Deleted the registered model MNIST-dev.")


def test_the_list_sorts_by_name_or_last_updated(member, demo):
    for name in ("zeta", "alpha", "Mid"):
        services.registered_model_create(entity=demo.entity, name=name, user=demo.member)
    by_updated = [rm.name for rm in member.get(LIST).context["page"]]
    assert by_updated[:3] == ["Mid", "alpha", "zeta"]
    r = member.get(LIST, {"sort": "name"})
    assert [rm.name for rm in r.context["page"]] == sorted(by_updated)
    assertContains(r, 'aria-sort="ascending"')
    assert [rm.name for rm in member.get(LIST, {"sort": "bogus"}).context["page"]] == by_updated
    # Search and paging keep the order.
    r = member.get(LIST, {"sort": "name", "q": "a"})
    assertContains(r, 'name="sort" value="name"')


def _many_links(demo, n: int, start: int = 0):
    from artifacts.models import Project

    bulk_versions(Project.objects.get(entity=demo.entity, name="mnist"), "many", n, link_to="MNIST-dev", start=start)
    return RegisteredModel.objects.get(name="MNIST-dev"), None


def test_the_model_cards_versions_table_pages_by_50_and_opens_at_the_selected_version(member, demo):
    rm, _ = _many_links(demo, 60)
    total = rm.links.count()
    r = member.get(MNIST)
    page = r.context["links"]
    assert len(page.object_list) == 50
    assert page.object_list[0].index == total - 1
    assertContains(r, f"1 - 50 of {total}")
    r = member.get(MNIST, {"page": 2})
    assert len(r.context["links"].object_list) == total - 50
    # A version on the second page opens with its page, its row highlighted.
    r = member.get(f"{MNIST}/v0")
    assert r.context["links"].number == 2
    assertContains(r, '<tr data-selectable class="selected">')


def test_the_model_card_uses_the_same_number_of_queries_at_3_and_at_120_versions(
    member, demo, django_assert_num_queries
):
    _many_links(demo, 3)
    member.get(MNIST)
    with CaptureQueriesContext(connection) as small:
        member.get(MNIST)
    _many_links(demo, 117, start=3)
    with django_assert_num_queries(len(small.captured_queries)):
        member.get(MNIST)


def test_link_new_version_finds_a_version_among_many(member, demo):
    from artifacts.models import Project

    project = Project.objects.get(entity=demo.entity, name="mnist")
    bulk_versions(project, "big_model", 130)
    url = f"{MNIST}/link"
    r = member.get(url, {"project": "mnist", "artifact": "big_model"}, headers={**HX, "HX-Target": "link-form"})
    assertContains(r, 'name="version_q"')
    listed = options(r, "version")
    assert len(listed) == 100 and listed[0] == "v129 (b129)"
    assert "v3 (b3)" not in listed
    for query in ("b3", "v3", "3"):
        r = member.get(url, {"project": "mnist", "artifact": "big_model", "version_q": query}, headers=HX)
        assert "v3 (b3)" in options(r, "version"), query
    r = member.get(url, {"project": "mnist", "artifact": "big_model", "version_q": "v3"}, headers=HX)
    assert options(r, "version") == ["v3 (b3)"]
    # A version found by searching can be linked, although it is not among the newest 100.
    r = member.post(url, {"project": "mnist", "artifact": "big_model", "version": "3"}, headers=HX)
    assert r.status_code == 204
    assert RegisteredModel.objects.get(name="MNIST-dev").links.filter(source__index=3).exists()


def test_a_short_version_list_has_no_search(member):
    r = member.get(f"{MNIST}/link", {"project": "mnist", "artifact": "mnist_model"}, headers=HX)
    assertNotContains(r, 'name="version_q"')


@pytest.mark.parametrize(
    "text",
    [
        "[" * 10000 + "]" * 10000,
        "".join(" " * (2 * i) + "- x\n" for i in range(1000))[:20000],
        "*a" * 10000,
        ">" * 20000,
    ],
    ids=["brackets", "nested-lists", "emphasis", "quotes"],
)
def test_a_hostile_model_card_still_renders(member, demo, text):
    """Python-Markdown recursed out on deep lists (a 500 for every reader) and took half a minute on 20,000
    brackets; the renderer now stops nesting at 20 levels."""
    rm = RegisteredModel.objects.get(name="MNIST-dev")
    services.registered_model_update(registered_model=rm, user=demo.member, description=text)
    r = member.get(MNIST)
    assert r.status_code == 200
    assert r.content.decode().count("<ul>") <= 21
