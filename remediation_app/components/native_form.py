"""A plain HTML form that the browser submits itself (Reflex's form always prevents the default).

Used where the server must answer with a redirect and a Set-Cookie: login and logout.
"""

import reflex as rx
from reflex_components_core.el.elements.base import BaseHTML


class NativeForm(BaseHTML):  # type: ignore[misc]
    tag = "form"

    action: rx.Var[str]
    method: rx.Var[str]


native_form = NativeForm.create
