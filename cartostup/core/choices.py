from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    VIEW = "view", _("Consultation")
    LIST = "list", _("Consultation d'une liste")
    SEARCH = "search", _("Recherche")
    EXPORT = "export", _("Export")
    CREATE = "create", _("Création")
    UPDATE = "update", _("Modification")
    DELETE = "delete", _("Suppression")
    LOGIN = "login", _("Connexion")
    LOGIN_FAILED = "login_failed", _("Échec de connexion")
    LOGOUT = "logout", _("Déconnexion")
    LOCKED = "locked", _("Verrouillage du compte")
    OTP_ENROL = "otp_enrol", _("Enrôlement du second facteur")
    OTP_FAILED = "otp_failed", _("Échec du second facteur")
    PASSWORD_CHANGE = "password_change", _("Changement de mot de passe")
    IMPORT = "import", _("Import")
    # A person refused a record that exists (its page, its panel, the API's detail): answered
    # 404 like an absent record, recorded so that an actor probing references shows.
    REFUSED = "refused", _("Accès refusé")
