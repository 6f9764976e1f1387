"""What staff choose on the insight pages: the two sides of a cross-tab, over the usual filters."""

from __future__ import annotations

from wtforms import SelectChoice
from wtforms.validators import ValidationError

from surveys.crosstabs import Dimension
from surveys.staff_forms import Choice, ResultFilterForm


class CrossTabForm(ResultFilterForm):
    rows = Choice("Rows: answers to", [], default="")
    columns = Choice("Columns: split by", [], default="sight_plus")

    def offer(self, dimensions: dict[str, Dimension]) -> None:
        """Offer every dimension on both sides; rows default to the first question."""
        choices = [SelectChoice(key, dimension.label) for key, dimension in dimensions.items()]
        names = ", ".join(dimensions)
        for field in (self.rows, self.columns):
            field.choices = list(choices)
            field.invalid_choice_message = f"Choose one of: {names}."
        if not self.rows.data:
            self.rows.data = next(iter(dimensions))

    def validate_columns(self, field):
        if field.data and field.data == self.rows.data:
            raise ValidationError("Choose something other than the rows to split them by.")
