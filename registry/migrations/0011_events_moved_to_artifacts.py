from django.db import migrations


def copy_events(apps, schema_editor):
    """Every registry event into artifacts.Event (registered models by id now), oldest first so that the new ids
    keep the order the History pages by."""
    Old = apps.get_model("registry", "Event")
    New = apps.get_model("artifacts", "Event")
    Link = apps.get_model("registry", "Link")
    sources = dict(Link.objects.values_list("pk", "source_id"))
    batch = []
    for old in Old.objects.order_by("pk").iterator(chunk_size=2000):
        batch.append(
            New(
                kind=old.kind,
                actor_id=old.actor_id,
                actor_name=old.actor_name,
                created_at=old.created_at,
                entity_id=old.entity_id,
                registered_model_id=old.registered_model_id,
                object_id=old.object_id,
                object_label=old.object_label,
                version_id=sources.get(old.object_id),
                alias=old.alias,
                before=old.before,
                after=old.after,
            )
        )
        if len(batch) == 2000:
            New.objects.bulk_create(batch)
            batch = []
    New.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("artifacts", "0023_events"),
        ("registry", "0010_automations"),
    ]

    operations = [
        # Going back leaves artifacts.Event as it is (it goes with artifacts 0023) and registry.Event empty.
        migrations.RunPython(copy_events, migrations.RunPython.noop),
        migrations.DeleteModel(name="Event"),
    ]
