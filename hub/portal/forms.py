"""What the portal's forms share: WTForms' own messages in Polish, GET filter
forms without a CSRF token (they change nothing), and reading a page number."""

from __future__ import annotations

from flask import request
from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms.fields.choices import SelectChoice

PAGE_SIZE = 25
REQUIRED = "To pole jest wymagane."


class PortalForm(FlaskForm):
    """Every portal form: WTForms' built-in messages from its Polish catalogue
    (the app sets WTF_I18N_ENABLED off, so no Babel is needed). The CSRF token is
    checked once for every POST, before any view runs (CSRFProtect in app.py), so
    a form does not check it again: every template sends it as `csrf_token`."""

    class Meta:
        locales = ("pl_PL", "pl")
        csrf = False


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


def page_number() -> int:
    try:
        return max(1, int(request.args.get("strona", "1")))
    except ValueError:
        return 1
