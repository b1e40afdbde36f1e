from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "cartostup.reports"
    label = "reports"
    verbose_name = _("Signalements")

    def ready(self) -> None:
        from . import rules

        rules.register()
