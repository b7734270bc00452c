"""What the portal's forms share: WTForms' own messages in Polish, GET filter
forms without a CSRF token (they change nothing), and reading a page number."""

from __future__ import annotations

import re

from flask import request
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional

from hub.words import FormMessages
from wtforms.fields.choices import SelectChoice

PAGE_SIZE = 25
REQUIRED = "To pole jest wymagane."


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


def day_field(label: str, **kwargs) -> DateField:
    return DateField(label, format="%Y-%m-%d", **kwargs)


NEWEST, OLDEST = "najnowsze", "najstarsze"


def order_field() -> SelectField:
    """Every list's sort control: newest first unless asked otherwise."""
    return SelectField("Kolejność", choices=options([(NEWEST, "od najnowszych"), (OLDEST, "od najstarszych")]), default=NEWEST,
                       validators=[Optional()])


def newest_first(form) -> bool:
    return form.order.data != OLDEST


def pages(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


def page_number() -> int:
    text = request.args.get("strona", "1")
    return max(1, int(text)) if re.fullmatch(r"[0-9]{1,6}", text) else 1  # int() alone takes non-ASCII digits
