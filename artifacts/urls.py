from django.urls import path, register_converter

from artifacts import converters, views

register_converter(converters.EntityNameConverter, "entity")
register_converter(converters.NameConverter, "name")

app_name = "artifacts"

urlpatterns = [
    path("<entity:entity>/<name:project>", views.project_detail, name="project_detail"),
    path("<entity:entity>/<name:project>/runs/<name:run_id>", views.run_detail, name="run_detail"),
]
