"""Forms of the results desk. They only collect input: `voting.results` holds the rules (who
may be chosen, whether a reason is needed), so its own messages land next to the fields."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    IntegerField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange


class DecideForm(FlaskForm):
    """The jury chair's decision: the winner (or joint winners, or an award's recipients).

    The template draws the choices itself, as radio buttons or, where the category allows
    joint winners, checkboxes; any value is passed on, and the service says what is wrong.
    """

    winners = SelectMultipleField(_l("Winner"), validate_choice=False)
    reason = TextAreaField(_l("Reason for the decision"),
                           description=_l("Printed with the results and in the protocol."))


class RetallyForm(FlaskForm):
    # Not "reason": the decision form on the same page has one (the ids must differ).
    retally_reason = TextAreaField(_l("Why count again?"),
                                   description=_l("E.g. a ballot was corrected after a "
                                                  "complaint. Recorded with the new version."))


class FiguresForm(FlaskForm):
    public = HiddenField(validators=[InputRequired(), AnyOf(("on", "off"))])


class RevealForm(FlaskForm):
    """A reveal button: it carries the reveal version the presenter saw, so a second tap (or a
    second presenter) cannot move the screen on by a step nobody meant. `to` is "next",
    "previous", "summary" or a category id; the reveal itself says what it refuses."""

    version = IntegerField(validators=[InputRequired(), NumberRange(min=0, max=2**31 - 1)])
    to = StringField(_l("Jump to"), validators=[InputRequired(), Length(max=20)])


class BlankForm(FlaskForm):
    """Blank the hall's screen ("on") or bring it back ("off"), at the version seen."""

    version = IntegerField(validators=[InputRequired(), NumberRange(min=0, max=2**31 - 1)])
    blank = HiddenField(validators=[InputRequired(), AnyOf(("on", "off"))])


class DisplayLinkForm(FlaskForm):
    label = StringField(_l("Label"), validators=[Length(max=100)],
                        description=_l("Where the link is used, e.g. “Projector” or “OBS”."))


class RevokeLinkForm(FlaskForm):
    link = IntegerField(validators=[InputRequired(), NumberRange(min=1, max=2**31 - 1)])
