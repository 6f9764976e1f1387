"""Every staff survey URL: anonymous visitors are sent to sign in, readers get 403, staff and
admins get the page."""

from __future__ import annotations

import pytest

from accounts.models import Role
from tests.helpers import create_user, sign_in_as, sign_in_url
from tests.surveys.staff.conftest import V1, add_response, make_survey

URLS = [
    "/staff/surveys/reader-survey",
    "/staff/surveys/reader-survey?status=all&version=1",
    "/staff/surveys/reader-survey/answers/nickname",
    "/staff/surveys/reader-survey/export.csv",
    "/staff/surveys/reader-survey/export.xlsx",
    "/staff/surveys/reader-survey/export.json",
    "/staff/surveys/reader-survey/codebook.csv",
]


@pytest.fixture
def survey(session):
    survey = make_survey(session, (V1,))
    add_response(session, survey, {"nickname": "a secret answer"})
    return survey


@pytest.mark.parametrize("url", URLS)
def test_anonymous_visitors_are_sent_to_sign_in(client, survey, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"] == sign_in_url(url)
    assert b"a secret answer" not in response.data


@pytest.mark.parametrize("url", URLS)
def test_readers_get_403(client, session, survey, url):
    sign_in_as(client, create_user(session, "reader@example.com", role=Role.reader))
    response = client.get(url)
    assert response.status_code == 403
    assert b"a secret answer" not in response.data


@pytest.mark.parametrize("role", [Role.staff, Role.admin])
@pytest.mark.parametrize("url", URLS)
def test_staff_and_admins_get_the_page(client, session, survey, url, role):
    sign_in_as(client, create_user(session, f"{role.value}@sight.example", role=role))
    response = client.get(url)
    assert response.status_code == 200
    assert b"a secret answer" in response.data or url.endswith((".xlsx", "codebook.csv"))
