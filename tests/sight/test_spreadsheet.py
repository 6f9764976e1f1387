import pytest

from sight.spreadsheet import neutralise


@pytest.mark.parametrize("probe", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "\nx"])
def test_text_a_spreadsheet_would_run_is_made_plain_text(probe):
    assert neutralise(probe) == "'" + probe


@pytest.mark.parametrize("text", ["", "plain", "1+1", "a=b", "'quoted", "émoji 🎉"])
def test_other_text_is_left_alone(text):
    assert neutralise(text) == text
