"""Administration pages: organisations, sharing groups, antennas, users and memberships, and the
landlords' buildings. Thin: check the capability, parse the form, call one service or selector,
redirect with a message. Whatever the actor may not see answers 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters

from cartostup.core.paging import paginate
from cartostup.core.shown_once import ShownOnce

from . import account_services, policy, selectors, services
from .filters import filter_error_messages
from .forms import (
    AdminForm,
    AntennaForm,
    BuildingForm,
    MembershipForm,
    OrganisationForm,
    SharingGroupForm,
    UserCreateForm,
    UserUpdateForm,
)
from .models import Organisation, User

Capability = policy.Capability


class AuthenticatedRequest(HttpRequest):
    """Every page here sits behind the login and second-factor middleware."""

    user: User


def _submit(form: AdminForm, write: Callable[[dict[str, Any]], Any]) -> Any:
    """Run the service with the form's data; a refusal is shown on the form. Returns the
    service's result, or None when the form or the service refused."""
    if not form.is_valid():
        return None
    try:
        return write(form.cleaned_data)
    except ValidationError as error:
        form.add_service_error(error)
        return None


def _post_only(request: AuthenticatedRequest) -> HttpResponse | None:
    return None if request.method == "POST" else HttpResponseNotAllowed(["POST"])


def index(request: AuthenticatedRequest) -> HttpResponse:
    """The sections of the administration this actor may use."""
    sections = [
        (Capability.MANAGE_ORGANISATIONS, "access:organisation_list", _("Organisations")),
        (Capability.MANAGE_ORGANISATIONS, "access:sharing_group_list", _("Groupes de partage")),
        (Capability.MANAGE_USERS, "access:user_list", _("Utilisateurs")),
        (Capability.MANAGE_TERRITORIES, "access:antenna_list", _("Antennes Ofast")),
        (Capability.MANAGE_BUILDINGS, "access:building_list", _("Bâtiments du parc")),
        (Capability.BROWSE_AUDIT, "core:audit_list", _("Journal d'audit")),
    ]
    allowed = [
        (url, label) for capability, url, label in sections if policy.can(request.user, capability)
    ]
    if not allowed:
        policy.require(request.user, Capability.MANAGE_ORGANISATIONS)  # 404
    return render(
        request, "access/index.html", {"page_title": _("Administration"), "sections": allowed}
    )


# --- organisations -------------------------------------------------------------------------------


def organisation_list(request: AuthenticatedRequest) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_ORGANISATIONS)
    filterset = selectors.organisation_list(actor=request.user, filters=request.GET)
    page = paginate(request, filterset.qs)
    return render(
        request,
        "access/organisation_list.html",
        {
            "page_title": _("Organisations"),
            "filter_form": filterset.form,
            "filter_errors": filter_error_messages(filterset),
            "page_obj": page,
            "organisations": page.object_list,
        },
    )


def _organisation_initial(organisation: Organisation) -> dict[str, Any]:
    return {
        "name": organisation.name,
        "kind": organisation.kind,
        "national_scope": organisation.national_scope,
        "departements": list(organisation.departements.all()),
        "is_active": organisation.is_active,
    }


def organisation_create(request: AuthenticatedRequest) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_ORGANISATIONS)
    form = OrganisationForm(request.POST or None)
    if request.method == "POST":
        organisation = _submit(
            form, lambda data: services.organisation_create(actor=request.user, **data)
        )
        if organisation is not None:
            messages.success(
                request, _("Organisation « %(name)s » créée.") % {"name": organisation.name}
            )
            return redirect("access:organisation_detail", pk=organisation.pk)
    return render(
        request,
        "access/form.html",
        {
            "page_title": _("Nouvelle organisation"),
            "form": form,
            "submit_label": _("Créer l'organisation"),
            "cancel_url": "access:organisation_list",
        },
    )


def organisation_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_ORGANISATIONS)
    organisation = selectors.access_organisation(actor=request.user, pk=pk)
    members = selectors.organisation_member_list(actor=request.user, organisation=organisation)
    return render(
        request,
        "access/organisation_detail.html",
        {"page_title": organisation.name, "organisation": organisation, "members": members},
    )


def organisation_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_ORGANISATIONS)
    organisation = selectors.access_organisation(
        actor=request.user, pk=pk, action=policy.Action.CHANGE, record=request.method != "POST"
    )
    form = OrganisationForm(request.POST or None, initial=_organisation_initial(organisation))
    if request.method == "POST":
        updated = _submit(
            form,
            lambda data: services.organisation_update(
                actor=request.user, organisation=organisation, **data
            ),
        )
        if updated is not None:
            messages.success(
                request, _("Organisation « %(name)s » enregistrée.") % {"name": updated.name}
            )
            return redirect("access:organisation_detail", pk=updated.pk)
    return render(
        request,
        "access/form.html",
        {
            "page_title": _("Modifier l'organisation « %(name)s »") % {"name": organisation.name},
            "form": form,
            "submit_label": _("Enregistrer"),
            "cancel_url": "access:organisation_detail",
            "cancel_pk": organisation.pk,
        },
    )


# --- sharing groups ------------------------------------------------------------------------------


def sharing_group_list(request: AuthenticatedRequest) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_ORGANISATIONS)
    page = paginate(request, selectors.sharing_group_list(actor=request.user))
    return render(
        request,
        "access/sharing_group_list.html",
        {"page_title": _("Groupes de partage"), "page_obj": page, "groups": page.object_list},
    )


def sharing_group_create(request: AuthenticatedRequest) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_ORGANISATIONS)
    form = SharingGroupForm(
        request.POST or None, organisations=selectors.organisation_choices(actor=request.user)
    )
    if request.method == "POST":
        group = _submit(
            form, lambda data: services.sharing_group_create(actor=request.user, **data)
        )
        if group is not None:
            messages.success(request, _("Groupe « %(name)s » créé.") % {"name": group.name})
            return redirect("access:sharing_group_list")
    return render(
        request,
        "access/form.html",
        {
            "page_title": _("Nouveau groupe de partage"),
            "form": form,
            "submit_label": _("Créer le groupe"),
            "cancel_url": "access:sharing_group_list",
        },
    )


def sharing_group_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_ORGANISATIONS)
    group = selectors.access_sharing_group(actor=request.user, pk=pk, action=policy.Action.CHANGE)
    initial = {
        "name": group.name,
        "description": group.description,
        "owner_organisation": group.owner_organisation,
        "organisations": list(group.organisations.all()),
    }
    form = SharingGroupForm(
        request.POST or None,
        initial=initial,
        organisations=selectors.organisation_choices(actor=request.user),
    )
    if request.method == "POST":
        updated = _submit(
            form,
            lambda data: services.sharing_group_update(actor=request.user, group=group, **data),
        )
        if updated is not None:
            messages.success(request, _("Groupe « %(name)s » enregistré.") % {"name": updated.name})
            return redirect("access:sharing_group_list")
    return render(
        request,
        "access/form.html",
        {
            "page_title": _("Modifier le groupe « %(name)s »") % {"name": group.name},
            "form": form,
            "submit_label": _("Enregistrer"),
            "cancel_url": "access:sharing_group_list",
        },
    )


# --- antennas ------------------------------------------------------------------------------------


def antenna_list(request: AuthenticatedRequest) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_TERRITORIES)
    antennas = selectors.antenna_list(actor=request.user)
    return render(
        request,
        "access/antenna_list.html",
        {"page_title": _("Antennes Ofast"), "antennas": antennas},
    )


def antenna_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_TERRITORIES)
    antenna = selectors.access_antenna(actor=request.user, pk=pk)
    form = AntennaForm(
        request.POST or None, initial={"departements": list(antenna.departements.all())}
    )
    if request.method == "POST":
        updated = _submit(
            form,
            lambda data: services.antenna_update(
                actor=request.user, antenna=antenna, departements=data["departements"]
            ),
        )
        if updated is not None:
            messages.success(
                request, _("Antenne « %(name)s » enregistrée.") % {"name": updated.name}
            )
            return redirect("access:antenna_list")
    return render(
        request,
        "access/form.html",
        {
            "page_title": _("Départements de l'antenne « %(name)s »") % {"name": antenna.name},
            "form": form,
            "submit_label": _("Enregistrer"),
            "cancel_url": "access:antenna_list",
        },
    )


# --- buildings -----------------------------------------------------------------------------------


def building_list(request: AuthenticatedRequest) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_BUILDINGS)
    page = paginate(request, selectors.building_managed_list(actor=request.user))
    return render(
        request,
        "access/building_list.html",
        {"page_title": _("Bâtiments du parc"), "page_obj": page, "buildings": page.object_list},
    )


def _building_form(
    request: AuthenticatedRequest, initial: dict[str, Any] | None = None
) -> BuildingForm:
    organisations = services.building_organisations_for(request.user)  # type: ignore[arg-type]
    return BuildingForm(request.POST or None, initial=initial, organisations=organisations)


def building_create(request: AuthenticatedRequest) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_BUILDINGS)
    form = _building_form(request)
    if request.method == "POST":
        building = _submit(form, lambda data: services.building_create(actor=request.user, **data))
        if building is not None:
            messages.success(request, _("Bâtiment « %(name)s » ajouté.") % {"name": building.name})
            return redirect("access:building_list")
    return render(
        request,
        "access/form.html",
        {
            "page_title": _("Nouveau bâtiment"),
            "form": form,
            "submit_label": _("Ajouter le bâtiment"),
            "cancel_url": "access:building_list",
        },
    )


def building_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_BUILDINGS)
    building = selectors.access_building(actor=request.user, pk=pk)
    form = _building_form(
        request,
        initial={
            "name": building.name,
            "address": building.address,
            "latitude": building.latitude,
            "longitude": building.longitude,
            "stairwells": building.stairwells,
        },
    )
    form.fields.pop("organisation", None)  # a building never changes landlord
    if request.method == "POST":
        updated = _submit(
            form,
            lambda data: services.building_update(actor=request.user, building=building, **data),
        )
        if updated is not None:
            messages.success(
                request, _("Bâtiment « %(name)s » enregistré.") % {"name": updated.name}
            )
            return redirect("access:building_list")
    return render(
        request,
        "access/form.html",
        {
            "page_title": _("Modifier le bâtiment « %(name)s »") % {"name": building.name},
            "form": form,
            "submit_label": _("Enregistrer"),
            "cancel_url": "access:building_list",
            "intro": _("Commune : %(commune)s – cellule H3 : %(cell)s")
            % {"commune": building.commune, "cell": building.h3_cell},
        },
    )


# --- users ---------------------------------------------------------------------------------------


def user_list(request: AuthenticatedRequest) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_USERS)
    filterset = selectors.user_list(actor=request.user, filters=request.GET)
    page = paginate(request, filterset.qs)
    return render(
        request,
        "access/user_list.html",
        {
            "page_title": _("Utilisateurs"),
            "filter_form": filterset.form,
            "filter_errors": filter_error_messages(filterset),
            "page_obj": page,
            "users": page.object_list,
        },
    )


# A temporary password crosses the redirect to the page that shows it in two shares
# (`core.shown_once`): one in the session, one in a cookie sent to that account's page only.
TEMPORARY_PASSWORD_SHOWN_ONCE = ShownOnce(
    session_key="access.temporary_password",
    cookie="cartostup_temporary_password",
    page="access:user_temporary_password",
    valid=services.temporary_password_is_wellformed,
)


def _temporary_password_show(
    request: AuthenticatedRequest, *, user: User, temporary_password: str
) -> HttpResponse:
    """Redirect to the page that shows the temporary password once (never in the URL)."""
    return TEMPORARY_PASSWORD_SHOWN_ONCE.hand_over(
        request,
        redirect("access:user_temporary_password", pk=user.pk),
        temporary_password,
        args=[user.pk],
    )


@sensitive_post_parameters("password", "password_confirmation")
def user_create(request: AuthenticatedRequest) -> HttpResponse:
    """Create an account; a generated temporary password is shown once on the page the
    creation redirects to (reloading that page posts nothing)."""
    policy.require(request.user, Capability.MANAGE_USERS)
    form = UserCreateForm(request.POST or None)
    if request.method == "POST":
        created = _submit(
            form,
            lambda data: services.user_create(
                actor=request.user,
                username=data["username"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                password=data["password"] or None,
            ),
        )
        if created is not None:
            messages.success(
                request, _("Compte « %(username)s » créé.") % {"username": created.user.username}
            )
            if created.temporary_password is None:
                return redirect("access:user_detail", pk=created.user.pk)
            return _temporary_password_show(
                request, user=created.user, temporary_password=created.temporary_password
            )
    return render(
        request,
        "access/form.html",
        {
            "page_title": _("Nouvel utilisateur"),
            "form": form,
            "submit_label": _("Créer le compte"),
            "cancel_url": "access:user_list",
        },
    )


def user_temporary_password(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The temporary password just given to the account, shown once: both shares are forgotten
    as the page is made, so that reloading it (or coming back) shows it no more, and says how
    to give a new one."""
    policy.require(request.user, Capability.MANAGE_USERS)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    user = selectors.access_user(actor=request.user, pk=pk)
    temporary_password = TEMPORARY_PASSWORD_SHOWN_ONCE.take(request, args=[user.pk])
    if temporary_password is None:
        messages.info(
            request,
            _(
                "Le mot de passe provisoire n'est affiché qu'une fois : il ne peut plus être "
                "montré. S'il n'a pas été noté, donnez-en un nouveau avec le bouton « Nouveau "
                "mot de passe provisoire » de cette page."
            ),
        )
        response: HttpResponse = redirect("access:user_detail", pk=user.pk)
    else:
        response = render(
            request,
            "access/user_temporary_password.html",
            {
                "page_title": _("Mot de passe provisoire de « %(username)s »")
                % {"username": user.username},
                "shown_user": user,
                "temporary_password": temporary_password,
            },
        )
    return TEMPORARY_PASSWORD_SHOWN_ONCE.forget(response, args=[user.pk])


def user_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_USERS)
    user = selectors.access_user(actor=request.user, pk=pk)
    membership_form = MembershipForm(
        organisations=selectors.organisation_choices(actor=request.user)
    )
    return _user_detail_render(request, user=user, membership_form=membership_form)


def _user_detail_render(
    request: AuthenticatedRequest,
    *,
    user: Any,
    membership_form: MembershipForm,
    status: int = 200,
) -> HttpResponse:
    """The account's page (the caller has audited the read of the account; its tokens are
    audited here), also shown again under a refused form: a read like the first."""
    return render(
        request,
        "access/user_detail.html",
        {
            "page_title": user.get_full_name() or user.username,
            "shown_user": user,
            "memberships": selectors.user_membership_list(actor=request.user, user=user),
            "has_second_factor": selectors.user_has_second_factor(user=user),
            "api_tokens": selectors.user_api_token_list(actor=request.user, user=user),
            "now": timezone.now(),
            "membership_form": membership_form,
            "is_self": user.pk == request.user.pk,
        },
        status=status,
    )


def user_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_USERS)
    user = selectors.access_user(
        actor=request.user, pk=pk, action=policy.Action.CHANGE, record=request.method != "POST"
    )
    form = UserUpdateForm(
        request.POST or None,
        initial={"first_name": user.first_name, "last_name": user.last_name, "email": user.email},
    )
    if request.method == "POST":
        updated = _submit(
            form, lambda data: services.user_update(actor=request.user, user=user, **data)
        )
        if updated is not None:
            messages.success(
                request, _("Compte « %(username)s » enregistré.") % {"username": updated.username}
            )
            return redirect("access:user_detail", pk=updated.pk)
    return render(
        request,
        "access/form.html",
        {
            "page_title": _("Modifier le compte « %(username)s »") % {"username": user.username},
            "form": form,
            "submit_label": _("Enregistrer"),
            "cancel_url": "access:user_detail",
            "cancel_pk": user.pk,
        },
    )


def _user_action(
    request: AuthenticatedRequest,
    pk: int,
    write: Callable[..., Any],
    success: str,
    shown: Callable[[User, Any], HttpResponse] | None = None,
) -> HttpResponse:
    """A POST-only action on a user (deactivate, reactivate, reset the second factor or the
    password): back to the user's page, or to `shown(user, what write returned)`."""
    policy.require(request.user, Capability.MANAGE_USERS)
    user = selectors.access_user(
        actor=request.user, pk=pk, action=policy.Action.CHANGE, record=False
    )
    refused = _post_only(request)
    if refused is not None:
        return refused
    try:
        written = write(actor=request.user, user=user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("access:user_detail", pk=user.pk)
    messages.success(request, success % {"username": user.username})
    if shown is not None:
        return shown(user, written)
    return redirect("access:user_detail", pk=user.pk)


def user_deactivate(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _user_action(
        request, pk, services.user_deactivate, _("Compte « %(username)s » désactivé.")
    )


def user_reactivate(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _user_action(
        request, pk, services.user_reactivate, _("Compte « %(username)s » réactivé.")
    )


def user_password_reset(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Give the account a new temporary password (POST), shown once on the page this
    redirects to."""
    return _user_action(
        request,
        pk,
        services.user_password_reset,
        _(
            "Nouveau mot de passe provisoire donné à « %(username)s » : l'ancien mot de passe "
            "ne fonctionne plus et ses sessions ouvertes sont fermées."
        ),
        shown=lambda user, temporary_password: _temporary_password_show(
            request, user=user, temporary_password=temporary_password
        ),
    )


def user_second_factor_reset(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _user_action(
        request,
        pk,
        services.user_second_factor_reset,
        _(
            "Second facteur de « %(username)s » réinitialisé : il enrôlera un nouvel appareil "
            "à sa prochaine connexion."
        ),
    )


def membership_create(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    policy.require(request.user, Capability.MANAGE_USERS)
    user = selectors.access_user(
        actor=request.user, pk=pk, action=policy.Action.CHANGE, record=False
    )
    refused = _post_only(request)
    if refused is not None:
        return refused
    form = MembershipForm(
        request.POST, organisations=selectors.organisation_choices(actor=request.user)
    )
    membership = _submit(
        form, lambda data: services.membership_create(actor=request.user, user=user, **data)
    )
    if membership is None:
        # The account's page shown again with the form's errors is read again: audited.
        user = selectors.access_user(actor=request.user, pk=user.pk)
        return _user_detail_render(request, user=user, membership_form=form, status=400)
    messages.success(
        request,
        _("Rôle « %(role)s » ajouté dans « %(organisation)s ».")
        % {"role": membership.get_role_display(), "organisation": membership.organisation.name},
    )
    return redirect("access:user_detail", pk=user.pk)


def membership_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    membership = selectors.access_membership(actor=request.user, pk=pk)
    refused = _post_only(request)
    if refused is not None:
        return refused
    try:
        services.membership_delete(actor=request.user, membership=membership)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("Rôle « %(role)s » retiré dans « %(organisation)s ».")
            % {
                "role": membership.get_role_display(),
                "organisation": membership.organisation.name,
            },
        )
    return redirect("access:user_detail", pk=membership.user_id)


def api_token_revoke(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Revoke a personal API token of a user the administrator manages (POST, from the
    account's page): it stops working at once; back to that page."""
    token = selectors.access_api_token(actor=request.user, pk=pk)
    refused = _post_only(request)
    if refused is not None:
        return refused
    names = {"name": token.name, "username": token.user.username}
    if account_services.api_token_revoke(actor=request.user, token=token):
        messages.success(
            request,
            _("Jeton « %(name)s » de « %(username)s » révoqué : il ne permet plus d'appeler l'API.")
            % names,
        )
    else:
        messages.info(
            request, _("Le jeton « %(name)s » de « %(username)s » était déjà révoqué.") % names
        )
    return redirect("access:user_detail", pk=token.user_id)
