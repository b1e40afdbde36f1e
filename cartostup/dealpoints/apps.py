from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DealpointsConfig(AppConfig):
    name = "cartostup.dealpoints"
    label = "dealpoints"
    verbose_name = _("Points de deal")

    def ready(self) -> None:
        from . import rules

        rules.register()
