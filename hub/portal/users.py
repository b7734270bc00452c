"""Users and roles of the logged-in user's company or office: create users,
custom roles, grant and revoke, deactivate and activate. Who may do what is
the users service's rule (hub.users.service); this page only asks it."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from hub import access
from hub.errors import HubError
from hub.portal.app import hub_of
from hub.portal.auth import login_required
from hub.portal.forms import PortalForm, options
from hub.portal.words import (
    BAD_FORM,
    CHOOSE_ROLE,
    NO_ROLE,
    PERMISSION_NAMES,
    Ask,
    Label,
    account_locked,
    account_unlocked,
    password_length,
    polish,
    role_created,
    role_granted,
    role_revoked,
)
from hub.users.service import LEAST_PRIVILEGED_ROLE, PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN, SCOPE_PERMISSIONS
from hub.words import ROLE

bp = Blueprint("users", __name__, url_prefix="/uzytkownicy")

BUILT_IN_ROLE_NAMES = ROLE


def _scope() -> dict[str, str]:
    """The company or office the logged-in user manages: its own."""
    if g.actor.company_nip:
        return {"company_nip": g.actor.company_nip}
    return {"office_code": sorted(g.actor.offices)[0]}


def _kind() -> str:
    return "company" if g.actor.company_nip else "office"


class CheckboxList(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _new_name(label: str, ask: str, chars_min: int, chars_max: int, ask_length: str) -> StringField:
    """A name the user makes up (a new login, a new role): required, of a length, never filled in by the browser."""
    return StringField(
        label,
        validators=[InputRequired(ask), Length(chars_min, chars_max, ask_length)],
        render_kw={"autocomplete": "off"},
    )


class AddUserForm(PortalForm):
    login = _new_name(Label.NEW_LOGIN, Ask.LOGIN, 3, 100, Ask.LOGIN_LENGTH)
    role = SelectField(Label.ROLE, validators=[InputRequired(Ask.ROLE)])
    password = PasswordField(
        Label.NEW_USER_PASSWORD,
        validators=[
            Optional(),
            Length(PASSWORD_CHARS_MIN, PASSWORD_CHARS_MAX, password_length(PASSWORD_CHARS_MIN, PASSWORD_CHARS_MAX)),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class AddRoleForm(PortalForm):
    name = _new_name(Label.ROLE_NAME, Ask.ROLE_NAME, 2, 40, Ask.ROLE_NAME_LENGTH)
    permissions = CheckboxList(Label.PERMISSIONS, validators=[InputRequired(Ask.PERMISSION)])


class GrantForm(PortalForm):
    role = SelectField(Label.ROLE_TO_GRANT, validators=[InputRequired()])


class RoleForm(PortalForm):
    """Revoke one role: the role travels in a hidden field of its own button's form."""

    role = StringField(validators=[InputRequired(), Length(max=40)])


class ActiveForm(PortalForm):
    active = StringField(validators=[InputRequired()])


def _role_choices(roles) -> list[SelectChoice]:
    return options(
        (r.name, BUILT_IN_ROLE_NAMES.get(r.name, r.name) + ("" if r.built_in else Label.CUSTOM_ROLE)) for r in roles
    )


def _page(
    add_user: AddUserForm | None = None,
    add_role: AddRoleForm | None = None,
    *,
    problem: str | None = None,
    created: tuple[str, str] | None = None,
    reset: tuple[str, str | None] | None = None,  # generated: never None here
    status: int = 200,
):
    hub = hub_of()
    users = hub.users.list_users(g.actor, **_scope())
    roles = hub.users.list_roles(g.actor, **_scope())
    choices = _role_choices(roles)
    add_user = add_user or AddUserForm(
        formdata=None, role=LEAST_PRIVILEGED_ROLE[_kind()]
    )  # the least privileged unless another is chosen
    add_user.role.choices = choices
    add_role = add_role or AddRoleForm(formdata=None)
    add_role.permissions.choices = _permission_choices()
    grant_forms = {}
    for u in users:
        grant = GrantForm(formdata=None, prefix=f"grant-{u.login}")
        grant.role.choices = [c for c in choices if c.value not in u.roles]
        grant_forms[u.login] = grant
    return render_template(
        "users/index.html",
        users=users,
        roles=roles,
        add_user=add_user,
        add_role=add_role,
        grant_forms=grant_forms,
        revoke_form=RoleForm(formdata=None),
        active_form=ActiveForm(formdata=None),
        problem=problem,
        created=created,
        reset=reset,
        permission_names=PERMISSION_NAMES,
        role_names=BUILT_IN_ROLE_NAMES,
        me=g.login,
    ), status


def _permission_choices() -> list[SelectChoice]:
    return options(
        (p, PERMISSION_NAMES[p]) for p in sorted(SCOPE_PERMISSIONS[_kind()], key=list(PERMISSION_NAMES).index)
    )


@bp.route("/")
@login_required(access.USERS_MANAGE)
def index():
    return _page()


@bp.route("/dodaj", methods=["POST"])
@login_required(access.USERS_MANAGE)
def add_user():
    hub = hub_of()
    form = AddUserForm()
    form.role.choices = _role_choices(hub.users.list_roles(g.actor, **_scope()))
    if not form.validate_on_submit():
        return _page(add_user=form, status=400)
    try:
        new = hub.users.add_user(
            g.actor, form.login.data, role=form.role.data, password=form.password.data or None, **_scope()
        )
    except HubError as e:
        return _page(add_user=form, problem=polish(e), status=400)
    # The generated password is shown on this page once; it never goes into the (signed, readable) session cookie.
    return _page(created=(new.user.login, new.password))


@bp.route("/role", methods=["POST"])
@login_required(access.USERS_MANAGE)
def add_role():
    form = AddRoleForm()
    form.permissions.choices = _permission_choices()
    if not form.validate_on_submit():
        return _page(add_role=form, status=400)
    try:
        role = hub_of().users.add_role(g.actor, name=form.name.data, permissions=form.permissions.data, **_scope())
    except HubError as e:
        return _page(add_role=form, problem=polish(e), status=400)
    flash(role_created(role.name, (PERMISSION_NAMES[p] for p in role.permissions)), "success")
    return redirect(url_for("users.index"))


@bp.route("/<login>/nadaj", methods=["POST"])
@login_required(access.USERS_MANAGE)
def grant(login: str):
    form = GrantForm(prefix=f"grant-{login}")
    form.role.choices = _role_choices(hub_of().users.list_roles(g.actor, **_scope()))
    return _role_change(form, CHOOSE_ROLE, login, hub_of().users.grant, role_granted)


@bp.route("/<login>/odbierz", methods=["POST"])
@login_required(access.USERS_MANAGE)
def revoke(login: str):
    return _role_change(RoleForm(), NO_ROLE, login, hub_of().users.revoke, role_revoked)


def _role_change(form: GrantForm | RoleForm, problem: str, login: str, change, done):
    """Grant or revoke: `change(actor, login, role)` with the form's role, then `done(role, login)`
    said; `problem` when the form names no role it may."""
    if not form.validate_on_submit():
        return _page(problem=problem, status=400)
    role = form.role.data
    return _change(lambda: change(g.actor, login, role), done(role, login))


@bp.route("/<login>/aktywny", methods=["POST"])
@login_required(access.USERS_MANAGE)
def set_active(login: str):
    form = ActiveForm()
    if not form.validate_on_submit() or form.active.data not in ("tak", "nie"):
        return _page(problem=BAD_FORM, status=400)
    active = form.active.data == "tak"
    done = account_unlocked(login) if active else account_locked(login)
    return _change(lambda: hub_of().users.set_active(g.actor, login, active), done)


@bp.route("/<login>/haslo", methods=["POST"])
@login_required(access.USERS_MANAGE)
def reset_password(login: str):
    """A new generated password, shown on this page once; the user must change it at the next login."""
    try:
        password = hub_of().users.reset_password(g.actor, login)
    except HubError as e:
        return _page(problem=polish(e), status=400)
    return _page(reset=(login, password))


def _change(call, done: str):
    try:
        call()
    except HubError as e:
        return _page(problem=polish(e), status=400)
    flash(done, "success")
    return redirect(url_for("users.index"))
