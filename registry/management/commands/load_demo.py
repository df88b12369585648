import hashlib
import io
import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from artifacts import services
from artifacts.models import Entity, Organization, Project, Role, Run
from registry import services as registry_services
from registry.models import RegisteredModel

FINE_TUNED_CARD = """# Fine-Tuned Review Autocompletion

Completes product reviews as customers type them. Fine-tuned from a small causal language model on
120k English reviews.

- **Input**: the first words of a review
- **Output**: up to 32 suggested tokens
- **Owner**: the reviews team
"""

ORGANIZATION = "reviewco-org"

MNIST_CARD = """# MNIST-dev

A small convolutional network for handwritten digits, used to try the registry end to end.
"""


def _model_bytes(name: str, step: int, size: int = 4096) -> bytes:
    """Small, deterministic stand-in weights: the same call always gives the same bytes (and digest)."""
    seed = f"{name}:{step}".encode()
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:size])


def _json(data: dict) -> io.BytesIO:
    return io.BytesIO(json.dumps(data, indent=2, sort_keys=True).encode())


class Command(BaseCommand):
    help = "Load the demo entity `reviewco` with its projects, runs, artifacts and registered models (idempotent)."

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        if Project.objects.filter(entity__name="reviewco", name="review-autocompletion").exists():
            # Loaded before: never put demo state back over what people have done since (moved aliases,
            # deleted models). `make run` calls this every time. Only what a newer release adds is added.
            if self._organization():
                self.stdout.write("Demo data already loaded; added the organization reviewco-org.")
            else:
                self.stdout.write("Demo data already loaded: nothing changed.")
            return
        User = get_user_model()
        demo, _ = User.objects.get_or_create(
            username="demo", defaults={"first_name": "Demo", "last_name": "Trainer", "email": "demo@example.com"}
        )
        if demo.has_usable_password():
            demo.set_unusable_password()
            demo.save(update_fields=["password"])
        entity = Entity.objects.filter(name="reviewco").first() or services.entity_create(
            name="reviewco", description="The reviews team."
        )
        services.membership_set(entity=entity, user=demo, role=Role.ADMIN)
        if not entity.protected_aliases:
            entity.protected_aliases = ["production"]
            entity.save(update_fields=["protected_aliases"])

        self._review_autocompletion(entity, demo)
        self._mnist(entity, demo)
        self._organization()
        self.stdout.write(
            f"Demo data ready: {Project.objects.filter(entity=entity).count()} projects, "
            f"{RegisteredModel.objects.filter(entity=entity).count()} registered models in '{entity}'."
        )

    def _run(self, project: Project, user, run_id: str, **fields) -> Run:
        run = Run.objects.filter(project=project, run_id=run_id).first()
        return run or services.run_create(project=project, user=user, run_id=run_id, **fields)

    def _review_autocompletion(self, entity: Entity, user) -> None:
        project = services.project_get_or_create(entity=entity, name="review-autocompletion", user=user)
        if not project.description:
            project.description = "Autocompletion for product reviews."
            project.save(update_fields=["description"])
        run = self._run(
            project,
            user,
            "k3v9x2qa",
            display_name="fine-tune-gpt-small",
            job_type="train",
            config={"base_model": "gpt-small", "learning_rate": 3e-5, "epochs": 4, "batch_size": 32},
        )
        run.summary = {"eval/loss": 1.87, "eval/perplexity": 6.49, "train/loss": 1.62}
        run.save(update_fields=["summary"])
        versions = []
        for epoch in range(4):
            result = services.version_log(
                run=run,
                user=user,
                name="review-autocompletion-model",
                type="model",
                files={
                    "model.safetensors": io.BytesIO(_model_bytes("review", epoch)),
                    "config.json": _json({"architecture": "gpt-small", "vocab_size": 32000, "epoch": epoch + 1}),
                },
                metadata={"epoch": epoch + 1, "eval": {"loss": round(2.4 - 0.18 * epoch, 2), "perplexity": 11 - epoch}},
                description=f"Checkpoint after epoch {epoch + 1}.",
            )
            versions.append(result.version)
        for version in versions[:3]:
            registry_services.link_version(
                version=version, user=user, entity=entity, registered_model_name="Fine-Tuned-Review-Autocompletion"
            )
        rm = RegisteredModel.objects.get(entity=entity, name="Fine-Tuned-Review-Autocompletion")
        if not rm.description:
            registry_services.registered_model_update(
                registered_model=rm, user=user, description=FINE_TUNED_CARD, tags=["nlp", "autocompletion"]
            )
        registry_services.link_version(version=versions[1], user=user, registered_model=rm, aliases=["production"])

    def _mnist(self, entity: Entity, user) -> None:
        project = services.project_get_or_create(entity=entity, name="mnist", user=user)
        prep = self._run(project, user, "d4t4pr3p", display_name="prepare-mnist", job_type="dataset")
        dataset = services.version_log(
            run=prep,
            user=user,
            name="mnist-dataset",
            type="dataset",
            files={
                "train/labels.csv": io.BytesIO(b"index,label\n0,5\n1,0\n2,4\n3,1\n4,9\n"),
                "test/labels.csv": io.BytesIO(b"index,label\n0,7\n1,2\n2,1\n"),
                "README.md": io.BytesIO(b"# MNIST sample\n\nA few rows of MNIST labels for the demo.\n"),
            },
            metadata={"rows": {"train": 5, "test": 3}, "source": "yann.lecun.com/exdb/mnist"},
        ).version
        train = self._run(
            project,
            user,
            "8adpd2kp",
            display_name="train-cnn",
            job_type="train",
            config={"optimizer": "adam", "learning_rate": 0.001, "epochs": 5, "dropout": 0.25},
        )
        train.summary = {"accuracy": 0.991, "loss": 0.028}
        train.save(update_fields=["summary"])
        services.version_use(run=train, version=dataset, user=user)
        models = [
            services.version_log(
                run=train,
                user=user,
                name="mnist_model",
                type="model",
                files={"model.pt": io.BytesIO(_model_bytes("mnist", step, size=2048))},
                metadata={"accuracy": acc, "framework": "pytorch"},
            ).version
            for step, acc in enumerate([0.982, 0.991])
        ]
        registry_services.link_version(version=models[0], user=user, entity=entity, registered_model_name="MNIST-dev")
        rm = RegisteredModel.objects.get(entity=entity, name="MNIST-dev")
        if not rm.description:
            registry_services.registered_model_update(
                registered_model=rm, user=user, description=MNIST_CARD, tags=["vision"]
            )
        evaluation = self._run(project, user, "3v4lm0d1", display_name="evaluate-cnn", job_type="eval")
        evaluation.summary = {"test/accuracy": 0.989}
        evaluation.save(update_fields=["summary"])
        services.version_use(run=evaluation, version=models[0], user=user)

    def _organization(self) -> bool:
        """W&B's current Registry: the organization `reviewco-org` owns the team, with its Model and Dataset
        registries and a collection in each. False when it exists already."""
        if Organization.objects.filter(name=ORGANIZATION).exists():
            return False
        entity = Entity.objects.get(name="reviewco")
        user = get_user_model().objects.get(username="demo")
        organization = registry_services.organization_create(name=ORGANIZATION, teams=[entity])
        model = organization.registries.get(name="model")
        if not model.protected_aliases:
            registry_services.registry_protected_alias_add(registry=model, name="production", actor=user)
        # Empty collections, ready for a first link (from the Artifact browser, the ⋯ menu or code): the demo's
        # versions stay linked to the legacy Model Registry only.
        registry_services.registered_model_create(
            registry=model,
            name="mnist-classifier",
            type="model",
            description="Digit classifier candidates, promoted from the mnist project.",
            tags=["vision"],
            user=user,
        )
        registry_services.registered_model_create(
            registry=organization.registries.get(name="dataset"),
            name="mnist",
            type="dataset",
            description="The MNIST samples the digit classifiers train on.",
            user=user,
        )
        return True
