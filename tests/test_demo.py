from io import StringIO

from django.core.management import call_command

from artifacts.models import ArtifactAlias, ArtifactVersion, Project
from registry.models import Link, LinkAlias
from tests.factories import snapshot


def load() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def names(qs) -> list[str]:
    return [f"{v.artifact.name}:{v.label}" for v in qs.select_related("artifact").order_by("artifact__name", "index")]


def test_the_demo_matches_the_seed(db):
    load()
    rac = Project.objects.get(entity__name="reviewco", name="review-autocompletion")
    assert names(ArtifactVersion.committed.filter(artifact__project=rac)) == [
        f"review-autocompletion-model:v{i}" for i in range(4)
    ]
    links = Link.objects.filter(registered_model__name="Fine-Tuned-Review-Autocompletion").order_by("index")
    assert [(lk.label, lk.source_name) for lk in links] == [
        ("v0", "review-autocompletion-model:v0"),
        ("v1", "review-autocompletion-model:v1"),
        ("v2", "review-autocompletion-model:v2"),
    ]
    mnist = Project.objects.get(entity__name="reviewco", name="mnist")
    assert names(ArtifactVersion.committed.filter(artifact__project=mnist)) == [
        "mnist-dataset:v0",
        "mnist_model:v0",
        "mnist_model:v1",
    ]
    (mnist_link,) = Link.objects.filter(registered_model__name="MNIST-dev")
    assert (mnist_link.label, mnist_link.source_name) == ("v0", "mnist_model:v0")
    train = mnist.runs.get(run_id="8adpd2kp")
    assert names(ArtifactVersion.objects.filter(usages__run=train)) == ["mnist-dataset:v0"]
    assert names(ArtifactVersion.objects.filter(created_by_run=train)) == ["mnist_model:v0", "mnist_model:v1"]
    evaluation = mnist.runs.get(job_type="eval")
    assert names(ArtifactVersion.objects.filter(usages__run=evaluation)) == ["mnist_model:v0"]
    assert ArtifactAlias.objects.get(artifact__name="mnist_model", name="latest").version.index == 1
    assert LinkAlias.objects.get(registered_model__name="MNIST-dev", name="latest").link == mnist_link


def test_loading_twice_changes_nothing(db):
    load()
    before = snapshot()
    load()
    assert snapshot() == before


def test_loading_again_keeps_what_people_changed(db):
    from django.contrib.auth import get_user_model

    from registry import services
    from registry.models import Link, RegisteredModel

    load()
    demo = get_user_model().objects.get(username="demo")
    v2 = Link.objects.get(registered_model__name="Fine-Tuned-Review-Autocompletion", index=2)
    services.link_alias_set(link=v2, name="production", user=demo)
    services.registered_model_delete(registered_model=RegisteredModel.objects.get(name="MNIST-dev"), user=demo)
    assert "already loaded" in load()
    assert (
        LinkAlias.objects.get(registered_model__name="Fine-Tuned-Review-Autocompletion", name="production").link == v2
    )
    assert not RegisteredModel.objects.filter(name="MNIST-dev").exists()
