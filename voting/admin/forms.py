"""Admin forms. They collect and coerce input; the rules themselves live in `validation`."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

# SelectChoice, not (value, label) tuples: WTForms 3.3 deprecates tuples (removed in 3.4).
METHOD_CHOICES = [
    SelectChoice("single", _l("Single choice (plurality)")),
    SelectChoice("ranked", _l("Ranking with points per place")),
    SelectChoice("score", _l("Scores (mean score wins)")),
    SelectChoice("approval", _l("Approval (choose any number up to a limit)")),
    SelectChoice("irv", _l("Instant runoff (ranked ballots, rounds)")),
    SelectChoice("decision", _l("Decided by the chapter (no ballots)")),
]
AWARD_CHOICES = [
    SelectChoice("award", _l("Golden Like")),
    SelectChoice("mention", _l("Honourable mention")),
    SelectChoice("special", _l("Special award")),
]
UNIT_TYPE_CHOICES = [
    SelectChoice("gmina", _l("commune (gmina)")),
    SelectChoice("miasto", _l("city (miasto)")),
    SelectChoice("powiat", _l("county (powiat)")),
    SelectChoice("wojewodztwo", _l("region (województwo)")),
    SelectChoice("other", _l("other")),
]
PLATFORM_CHOICES = [
    SelectChoice("facebook", "Facebook"),
    SelectChoice("instagram", "Instagram"),
    SelectChoice("tiktok", "TikTok"),
    SelectChoice("youtube", "YouTube"),
    SelectChoice("linkedin", "LinkedIn"),
    SelectChoice("x", "X (Twitter)"),
    SelectChoice("threads", "Threads"),
    SelectChoice("bluesky", "Bluesky"),
    SelectChoice("website", _l("website")),
    SelectChoice("other", _l("other")),
]
GROUP_LABELS = {"jury": _l("Jury"), "audience": _l("Audience")}


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=1024)])


class ConfirmForm(FlaskForm):
    """A bare form for POST buttons: it carries only the CSRF token."""


class GalaForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired()])
    date = DateField(_l("Date"), validators=[InputRequired()])
    venue = StringField(_l("Venue"), validators=[Optional()])
    closes_at = DateTimeLocalField(_l("Scheduled end of voting (optional)"),
                                   format="%Y-%m-%dT%H:%M", validators=[Optional()],
                                   description=_l("Warsaw time."))


class CategoryForm(FlaskForm):
    extra_errors: dict = {}  # noqa: RUF012  (replaced per instance, never mutated)

    name_pl = StringField(_l("Name in Polish"), validators=[InputRequired()])
    name_en = StringField(_l("Name in English"), validators=[Optional()])
    description_pl = TextAreaField(_l("Description in Polish"), validators=[Optional()])
    description_en = TextAreaField(_l("Description in English"), validators=[Optional()])
    slug = StringField(_l("Address (slug)"), validators=[Optional()],
                       description=_l("Leave empty to make one from the Polish name."))
    award = SelectField(_l("Kind of award"), choices=AWARD_CHOICES, default="award")
    method = SelectField(_l("Voting method"), choices=METHOD_CHOICES)
    ex_aequo = BooleanField(_l("The rules allow a joint award (ex aequo)"))
    places = IntegerField(_l("Places on a ballot"), validators=[Optional()],
                          description=_l("Ranking and instant runoff: how many places a voter "
                                         "fills (1., 2., 3., ...)."))
    points = StringField(_l("Points per place"), validators=[Optional()],
                         description=_l("Ranking only, e.g. 12,10,8. Empty: Borda over the places "
                                        "a ballot filled (3, 2, 1 for three; 2, 1 for two)."))
    score_min = IntegerField(_l("Lowest score"), validators=[Optional()])
    score_max = IntegerField(_l("Highest score"), validators=[Optional()])
    min_scores = IntegerField(_l("Minimum number of scores to win"), validators=[Optional()])
    max_choices = IntegerField(_l("Most approvals per ballot"), validators=[Optional()],
                               description=_l("Empty: no limit."))
    group_jury = BooleanField(_l("Jury votes"))
    weight_jury = IntegerField(_l("Jury weight (%)"), validators=[Optional()])
    group_audience = BooleanField(_l("Audience votes"))
    weight_audience = IntegerField(_l("Audience weight (%)"), validators=[Optional()])

    def to_data(self) -> dict:
        data = {name: field.data for name, field in self._fields.items()
                if not name.startswith(("group_", "weight_", "csrf"))}
        data["weights"] = {
            group: (getattr(self, f"weight_{group}").data or 0)
            for group in ("jury", "audience")
            if getattr(self, f"group_{group}").data
        }
        if len(data["weights"]) == 1:
            data["weights"] = {group: 100 for group in data["weights"]}
        if data["method"] == "decision":
            # Hidden for a decision (and said so where JavaScript is off): a box left ticked
            # from another method means nothing here.
            data["weights"] = {}
        return data

    RULE_FIELDS = ("slug", "award", "method", "places", "score_min", "score_max", "min_scores",
                   "max_choices")
    TEXT_FIELDS = ("name_pl", "name_en", "description_pl", "description_en")

    def load(self, category, sent: Any = None) -> None:  # noqa: ANN001
        """Fill the form from a category.

        With `sent` (the submitted form of a locked category) only what the browser left out
        is filled in: its rule fields are disabled, so they are not sent. Whatever *was* sent
        (a page loaded before the vote opened) goes on to the service, which refuses a change
        with the lock message instead of silently ignoring it.
        """
        sent = sent or {}
        for name in self.TEXT_FIELDS + self.RULE_FIELDS:
            if name not in sent:
                getattr(self, name).data = getattr(category, name)
        if "points" not in sent:
            self.points.data = ",".join(str(p) for p in category.points or [])
        # An unticked box is never sent: only a page without the method (a locked one) means
        # "keep it".
        if "ex_aequo" not in sent and "method" not in sent:
            self.ex_aequo.data = category.ex_aequo
        if not any(key.startswith(("group_", "weight_")) for key in sent):
            weights = category.weights()
            for group in ("jury", "audience"):
                getattr(self, f"group_{group}").data = group in weights
                getattr(self, f"weight_{group}").data = weights.get(group)


class ProfileForm(FlaskForm):
    name = StringField(_l("Profile name"), validators=[InputRequired()],
                       description=_l("As shown on the ballot, e.g. “Wrocław – oficjalny profil”."))
    unit_name = StringField(_l("Local government"), validators=[InputRequired()],
                            description=_l("e.g. Gmina Wojkowice, Miasto Gdynia."))
    unit_type = SelectField(_l("Type of local government"), choices=UNIT_TYPE_CHOICES)
    voivodeship = SelectField(_l("Voivodeship"), validators=[Optional()])
    platform = SelectField(_l("Platform"), choices=PLATFORM_CHOICES)
    handle = StringField(_l("Handle"), validators=[Optional()],
                         description=_l("e.g. @wroclaw (optional)."))
    url = StringField(_l("Profile address (URL)"), validators=[InputRequired()])
    description = TextAreaField(_l("Short description"), validators=[Optional()])
    image = FileField(_l("Image (PNG, JPEG or WebP, at most 2 MB)"))
    remove_image = BooleanField(_l("Remove the current image"))

    def to_data(self) -> dict:
        return {name: self._fields[name].data for name in
                ("name", "unit_name", "unit_type", "voivodeship", "platform", "handle", "url",
                 "description")}


class NominateForm(FlaskForm):
    profile_id = SelectField(_l("Profile"), coerce=int)
    citation = StringField(_l("Citation (optional)"), validators=[Optional()],
                           description=_l("What the nomination is for, e.g. “for the series "
                                          "of videos about the city's bridges”."))


class CitationForm(FlaskForm):
    citation = StringField(_l("Citation"), validators=[Optional()])


class MoveForm(FlaskForm):
    direction = HiddenField(validators=[InputRequired()])


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file"))


# --- Cards and the voting window -------------------------------------------------------------

GROUP_CHOICES = [SelectChoice("jury", _l("Jury")), SelectChoice("audience", _l("Audience"))]
_BATCH_RE = re.compile(r"[0-9a-f]{32}")


class CheckboxListField(SelectMultipleField):
    """Several choices as a list of checkboxes (a multiple select is clumsy on a phone)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class IssueCardsForm(FlaskForm):
    """A batch of cards. `batch` is this form's random id: sent twice, it issues nothing more."""

    batch = HiddenField()
    group = SelectField(_l("Voter group"), choices=GROUP_CHOICES)
    count = IntegerField(_l("Number of cards"),
                         validators=[Optional(), NumberRange(min=1, max=2**31 - 1)],
                         description=_l("For unlabelled cards (e.g. the audience): up to 400 on "
                                        "one printout, 2000 as CSV."))
    labels = TextAreaField(_l("Or one label per line"), validators=[Optional()],
                           description=_l("E.g. the jurors' names: one card per line."))
    recuse_profiles = CheckboxListField(_l("These cards may not vote for these profiles"),
                                        coerce=int, validators=[Optional()])
    recuse_units = CheckboxListField(_l("…nor for any profile of these local governments"),
                                     validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not self.batch.data:
            self.new_batch()

    def new_batch(self) -> None:
        self.batch.data = secrets.token_hex(16)

    def batch_id(self) -> str | None:
        return self.batch.data if _BATCH_RE.fullmatch(self.batch.data or "") else None

    def label_lines(self) -> list[str]:
        return [line.strip() for line in (self.labels.data or "").splitlines() if line.strip()]

    def fits_a_printout(self, most: int) -> bool:
        """False (with the reason on the field) for more cards than one printout holds."""
        lines = self.label_lines()
        if len(lines) <= most and (lines or (self.count.data or 0) <= most):
            return True
        field = self.labels if lines else self.count
        field.errors = [*list(field.errors or []), str(_l(
            "At most %(max)d cards on one printout: issue them in smaller batches, or as CSV.",
            max=most))]
        return False


class CardActionForm(FlaskForm):
    """A button on one card of the list: the card's number travels in the form."""

    card = IntegerField(validators=[InputRequired(), NumberRange(min=1, max=2**31 - 1)])


class OpenVotingForm(FlaskForm):
    closes_at = DateTimeLocalField(_l("Scheduled end of voting (optional)"),
                                   format="%Y-%m-%dT%H:%M", validators=[Optional()],
                                   description=_l("Warsaw time. It can be moved while voting "
                                                  "is open."))


class ScheduleCloseForm(FlaskForm):
    closes_at = DateTimeLocalField(_l("Scheduled end of voting"), format="%Y-%m-%dT%H:%M",
                                   validators=[Optional()],
                                   description=_l("Warsaw time. Leave empty for no scheduled "
                                                  "end."))


class CloseVotingForm(FlaskForm):
    confirm = BooleanField(
        _l("I understand: closing is final, no ballot is accepted after it."),
        validators=[DataRequired(message=_l("Tick the box to confirm: closing is final."))])
