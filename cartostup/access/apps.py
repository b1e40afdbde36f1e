from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccessConfig(AppConfig):
    name = "cartostup.access"
    label = "access"
    verbose_name = _("Organisations et habilitations")

    def ready(self) -> None:
        from . import rules

        rules.register()
