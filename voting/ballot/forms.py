"""Public forms. The ballot itself is plain fields read by `voting.ballot_sheet.read_form`."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class CardCodeForm(FlaskForm):
    """The short code printed on a card, typed on a phone."""

    code = StringField(_l("Code from your card"),
                       filters=[lambda value: value.strip() if isinstance(value, str) else value],
                       validators=[DataRequired(_l("Type the code printed on your card.")),
                                   Length(max=40, message=_l("A card code is 10 characters."))],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                  "spellcheck": "false", "placeholder": "XXXXX-XXXXX",
                                  "inputmode": "text", "maxlength": 40})
