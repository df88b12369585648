"""Projects named like a registry (`model-registry`, `wandb-registry-*`) become `project-<name>`: those names are
reserved, so that no project is ever taken for a registry."""

from django.db import migrations


def rename_reserved(apps, schema_editor):
    Project = apps.get_model("artifacts", "Project")
    reserved = Project.objects.filter(name="model-registry") | Project.objects.filter(name__startswith="wandb-registry-")
    for project in reserved:
        base = f"project-{project.name}"[:120]
        name, n = base, 1
        while Project.objects.filter(entity_id=project.entity_id, name=name).exists():
            n += 1
            name = f"{base}-{n}"
        project.name = name
        project.save(update_fields=["name"])


class Migration(migrations.Migration):
    dependencies = [("artifacts", "0001_initial")]

    operations = [migrations.RunPython(rename_reserved, migrations.RunPython.noop)]
