"""What the portal's forms share: WTForms' own messages in Polish, GET filter
forms without a CSRF token (they change nothing), number and day fields that take
ASCII digits only, and reading a page number."""

from __future__ import annotations

from flask import request
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from hub.clock import DAY_FIRST, DAY_LAST, check_day, parse_day
from hub.errors import InvalidRequest
from hub.ids import ascii_digits
from hub.portal.words import NOT_A_DAY, NOT_DIGITS, Label, day_out_of_range
from hub.words import FormMessages

PAGE_SIZE = 25


class PortalForm(FlaskForm):
    """Every portal form: WTForms' built-in messages in Polish from hub.words (and
    WTForms' Polish catalogue for any not there; the app sets WTF_I18N_ENABLED off). The CSRF token is
    checked once for every POST, before any view runs (CSRFProtect in app.py), so
    a form does not check it again: every template sends it as `csrf_token`."""

    class Meta:
        locales = ("pl_PL", "pl")
        csrf = False

        def get_translations(self, form):
            """WTForms' messages as hub.words says them, its Polish catalogue for the rest."""
            return FormMessages(super().get_translations(form))


class FilterForm(PortalForm):
    """A form sent by GET (filters, searches), read from the query string."""

    def __init__(self, **kwargs) -> None:
        super().__init__(formdata=request.args, **kwargs)


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as the choices of a select, radio or checkbox list."""
    return [SelectChoice(value, label) for value, label in pairs]


def label_of(field, value: str) -> str:
    return next((c.label for c in field.choices if c.value == value), value)


class CountField(IntegerField):
    """A whole number in digits 0-9. WTForms' IntegerField reads with `int()`, which also
    takes "１２" and "١٢"; here those are "not a number", like any other text."""

    def process_formdata(self, valuelist):
        if valuelist and valuelist[0].strip() and not ascii_digits(valuelist[0].strip()):
            self.data = None
            raise ValueError(NOT_DIGITS)
        super().process_formdata(valuelist)


class DayField(DateField):
    """A business day written RRRR-MM-DD in digits 0-9 (`strptime` takes any Unicode digit),
    within the days the hub handles."""

    def process_formdata(self, valuelist):
        if not valuelist or not " ".join(valuelist).strip():
            super().process_formdata(valuelist)
            return
        try:
            self.data = check_day(parse_day(" ".join(valuelist).strip()))
        except ValueError:
            self.data = None
            raise ValueError(NOT_A_DAY) from None
        except InvalidRequest:
            self.data = None
            raise ValueError(day_out_of_range(DAY_FIRST, DAY_LAST)) from None


def day_field(label: str, **kwargs) -> DayField:
    return DayField(label, format="%Y-%m-%d", **kwargs)


NEWEST, OLDEST = "najnowsze", "najstarsze"


def order_field() -> SelectField:
    """Every list's sort control: newest first unless asked otherwise."""
    return SelectField(
        Label.ORDER,
        choices=options([(NEWEST, Label.NEWEST_FIRST), (OLDEST, Label.OLDEST_FIRST)]),
        default=NEWEST,
        validators=[Optional()],
    )


def newest_first(form) -> bool:
    return form.order.data != OLDEST


def pages(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


def page_number() -> int:
    text = request.args.get("strona", "1").strip()
    return max(1, int(text)) if ascii_digits(text) and len(text) <= 9 else 1
