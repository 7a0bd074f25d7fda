"""Forms of the results desk. They only collect input: `voting.results` holds the rules (who
may be chosen, whether a reason is needed), so its own messages land next to the fields."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectMultipleField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, NumberRange


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
    """The reveal button: it names the category the presenter saw, so a second press (or a
    second presenter) cannot reveal the category after it by surprise."""

    category = IntegerField(validators=[InputRequired(), NumberRange(min=1, max=2**31 - 1)])
