"""Forms of the organizers' page. The rules (password length, known roles) live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
)
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional

from ..roles import ADMIN, CHAIR, DESK, PRESENTER, ROLE_NAMES
from ..services import MIN_PASSWORD_LENGTH

# The least power first: the form suggests what a volunteer at the desk needs.
ROLE_ORDER = (DESK, PRESENTER, CHAIR, ADMIN)
ROLE_HINTS = {
    ADMIN: _l("everything, including the organizers and their roles"),
    CHAIR: _l("the results before the reveal, tie decisions, the protocol"),
    DESK: _l("voting cards: issue, revoke, re-issue, who has voted; never a result"),
    PRESENTER: _l("drives the reveal and sees only its next step"),
}


def role_choices() -> list[SelectChoice]:
    return [SelectChoice(role, ROLE_NAMES[role]) for role in ROLE_ORDER]


class OrganizerForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[InputRequired(), Length(max=254)])
    role = SelectField(_l("Role"), choices=role_choices)
    password = PasswordField(
        _l("Password (optional)"), validators=[Optional(), Length(max=1024)],
        description=_l("At least %(n)d characters. Leave it empty to get a generated one, "
                       "shown once.", n=MIN_PASSWORD_LENGTH))


class OrganizerRowForm(FlaskForm):
    """A form in one organizer's row of the list: their number travels in the form."""

    organizer = IntegerField(validators=[InputRequired(), NumberRange(min=1, max=2**31 - 1)])


class RoleForm(OrganizerRowForm):
    role = SelectField(_l("Role"), choices=role_choices)


class ActiveForm(OrganizerRowForm):
    active = HiddenField(validators=[InputRequired(), AnyOf(["0", "1"])])
