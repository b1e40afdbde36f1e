from django.db import models
from django.utils.translation import gettext_lazy as _


class CommuneKind(models.TextChoices):
    COMMUNE = "COM", _("Commune")
    ARRONDISSEMENT = "ARM", _("Arrondissement municipal")
