"""Staff survey management: list, create with validation and preview, edit respecting
versions, duplicate, open and close, dates, import and download; every change audited."""

from __future__ import annotations

import io

import pytest
import yaml
from sqlalchemy import select

from sight.extensions import db
from sight.models import AuditEntry
from surveys.definition import dump_definition, load_definition, validate_definition
from surveys.operations import DEFAULT_SURVEY_FILE, survey_by_slug
from tests.helpers import csrf_token_from, sign_in_as, sign_in_url, submit_form
from tests.surveys.conftest import ALL_TYPES, account

MANAGE_URLS = [
    ("get", "/staff/surveys"),
    ("get", "/staff/surveys/new"),
    ("get", "/staff/surveys/import"),
    ("get", "/staff/surveys/all-types/edit"),
    ("get", "/staff/surveys/all-types/duplicate"),
    ("get", "/staff/surveys/all-types/definition.yaml"),
    ("post", "/staff/surveys/all-types/close"),
    ("post", "/staff/surveys/all-types/dates"),
]


def audit_actions(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [(e.action, e.actor_email) for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def survey_state(app, slug):
    with app.app_context():
        survey = survey_by_slug(db.session, slug)
        if survey is None:
            return None
        return {"status": survey.status.value, "versions": [v.number for v in survey.versions],
                "title": survey.title, "opens_at": survey.opens_at, "closes_at": survey.closes_at,
                "definition": survey.current_version.definition}


def save_edit(staff_client, slug: str, text: str):
    page = staff_client.get(f"/staff/surveys/{slug}/edit").get_data(as_text=True)
    based_on = page.split('id="based_on" name="based_on" type="hidden" value="', 1)[1].split('"', 1)[0]
    return staff_client.post(
        f"/staff/surveys/{slug}/edit",
        data={"csrf_token": csrf_token_from(page), "based_on": based_on, "definition": text, "action": "save"},
    )


@pytest.mark.parametrize(("method", "url"), MANAGE_URLS)
def test_only_staff_may_manage_surveys(app, client, make_survey, method, url):
    make_survey()
    # A valid CSRF token of this browser's session, from a page anyone can open.
    token = csrf_token_from(client.get("/surveys/all-types").get_data(as_text=True))
    kwargs = {"data": {"csrf_token": token}} if method == "post" else {}
    anonymous = getattr(client, method)(url, **kwargs)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == sign_in_url(url)
    sign_in_as(client, account(app))
    assert getattr(client, method)(url, **kwargs).status_code == 403
    assert survey_state(app, "all-types")["status"] == "open"


def test_the_list_shows_each_survey_with_its_state_and_links(app, staff_client, make_survey):
    make_survey()
    page = staff_client.get("/staff/surveys").get_data(as_text=True)
    assert 'href="/staff/surveys/all-types"' in page  # results, by the other half of the package
    assert "Every kind of question" in page
    assert "<td>\nOpen\n</td>" in page or "<td>Open</td>" in page.replace("\n", "")
    assert 'href="/staff/surveys/all-types/edit"' in page
    assert 'href="/staff/surveys/all-types/definition.yaml"' in page


def test_creating_shows_located_problems_and_stores_nothing(app, staff_client):
    text = "slug: fresh\ntitle: Fresh\npages:\n  - id: p\n    questions:\n      - {id: q, type: singel, label: Q}\n"
    reply = submit_form(staff_client, "/staff/surveys/new", {"definition": text, "action": "save"})
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert "pages[0].questions[0]: unknown type &#39;singel&#39;" in html
    assert 'aria-describedby="definition-help definition-error"' in html or 'definition-error' in html
    assert "slug: fresh" in html  # what was typed stays
    assert survey_state(app, "fresh") is None


def test_preview_then_create(app, staff_client):
    text = dump_definition(validate_definition({**ALL_TYPES, "slug": "fresh"}))
    preview = submit_form(staff_client, "/staff/surveys/new", {"definition": text, "action": "preview"})
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert "The definition is valid." in html and "Preview: Every kind of question" in html
    assert 'name="grid[news]"' in html and "Other (please specify)" in html
    assert survey_state(app, "fresh") is None

    created = submit_form(staff_client, "/staff/surveys/new", {"definition": text, "action": "save"})
    assert created.headers["Location"] == "/staff/surveys/fresh/edit"
    state = survey_state(app, "fresh")
    assert state["status"] == "closed" and state["versions"] == [1]
    assert audit_actions(app) == [("survey.create", "staff@sight.example")]
    duplicate = submit_form(staff_client, "/staff/surveys/new", {"definition": text, "action": "save"})
    assert "exists already" in duplicate.get_data(as_text=True)


def test_editing_respects_versions_and_is_audited(app, staff_client, make_survey, reader_for):
    slug = make_survey()
    edit = staff_client.get(f"/staff/surveys/{slug}/edit").get_data(as_text=True)
    assert "Every kind of question" in edit and "slug: all-types" in edit

    text = dump_definition(validate_definition({**ALL_TYPES, "title": "Renamed"}))
    saved = save_edit(staff_client, slug, text)
    assert saved.status_code == 302
    assert "version 1 was updated in place" in staff_client.get(saved.headers["Location"]).get_data(as_text=True)
    assert survey_state(app, slug)["title"] == "Renamed"

    reader = reader_for(slug, app.test_client())
    reader.start()
    data = yaml.safe_load(text)
    data["pages"][0]["questions"][0]["options"].append({"value": "green", "label": "Green"})
    saved = save_edit(staff_client, slug, yaml.safe_dump(data))
    assert "Saved as version 2" in staff_client.get(saved.headers["Location"]).get_data(as_text=True)
    assert survey_state(app, slug)["versions"] == [1, 2]
    assert [a for a, _ in audit_actions(app)] == ["survey.create", "survey.edit", "survey.edit"]

    wrong_slug = save_edit(staff_client, slug, text.replace("slug: all-types", "slug: other"))
    assert wrong_slug.status_code == 422 and "duplicate the survey" in wrong_slug.get_data(as_text=True)


def test_an_edit_based_on_an_older_version_is_refused(app, staff_client, make_survey):
    slug = make_survey()
    page = staff_client.get(f"/staff/surveys/{slug}/edit").get_data(as_text=True)
    token = csrf_token_from(page)
    based_on = page.split('id="based_on" name="based_on" type="hidden" value="', 1)[1].split('"', 1)[0]
    first = dump_definition(validate_definition({**ALL_TYPES, "title": "First"}))
    second = dump_definition(validate_definition({**ALL_TYPES, "title": "Second"}))
    for text in (first, second):
        reply = staff_client.post(f"/staff/surveys/{slug}/edit", data={"csrf_token": token, "based_on": based_on, "definition": text, "action": "save"})
    assert reply.status_code == 422 and "Someone else changed this survey" in reply.get_data(as_text=True)
    assert survey_state(app, slug)["title"] == "First"


def test_duplicate_makes_a_closed_copy(app, staff_client, make_survey):
    slug = make_survey()
    reply = submit_form(staff_client, f"/staff/surveys/{slug}/duplicate", {"slug": "all-types-2027", "title": "Again"})
    assert reply.headers["Location"] == "/staff/surveys/all-types-2027/edit"
    copy = survey_state(app, "all-types-2027")
    assert copy["status"] == "closed" and copy["title"] == "Again"
    assert copy["definition"]["pages"] == survey_state(app, slug)["definition"]["pages"]
    for bad, message in (("all-types", "exists already"), ("Bad Slug", "lowercase letters"), ("new", "reserved")):
        refused = submit_form(staff_client, f"/staff/surveys/{slug}/duplicate", {"slug": bad, "title": "X"})
        assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    assert ("survey.duplicate", "staff@sight.example") in audit_actions(app)


def test_open_close_and_dates(app, staff_client, make_survey, reader_for):
    slug = make_survey()
    submit_form(staff_client, f"/staff/surveys/{slug}/close", {}, page_url=f"/staff/surveys/{slug}/edit")
    assert survey_state(app, slug)["status"] == "closed"
    assert "This survey is closed" in app.test_client().get(f"/surveys/{slug}").get_data(as_text=True)
    submit_form(staff_client, f"/staff/surveys/{slug}/open", {}, page_url=f"/staff/surveys/{slug}/edit")
    assert survey_state(app, slug)["status"] == "open"

    bad = submit_form(staff_client, f"/staff/surveys/{slug}/dates", {"opens_at": "2030-01-02T09:00", "closes_at": "2030-01-01T09:00"}, page_url=f"/staff/surveys/{slug}/edit")
    assert bad.status_code == 422 and "must be later than the opening time" in bad.get_data(as_text=True)
    junk = submit_form(staff_client, f"/staff/surveys/{slug}/dates", {"opens_at": "soon"}, page_url=f"/staff/surveys/{slug}/edit")
    assert junk.status_code == 422
    submit_form(staff_client, f"/staff/surveys/{slug}/dates", {"opens_at": "2030-01-02T09:00", "closes_at": ""}, page_url=f"/staff/surveys/{slug}/edit")
    state = survey_state(app, slug)
    assert state["opens_at"].isoformat() == "2030-01-01T22:00:00+00:00"  # 9 am in Sydney, summer time
    assert state["definition"]["settings"]["opens_at"] == "2030-01-01T22:00:00+00:00"
    assert "This survey hasn&#39;t opened yet" in app.test_client().get(f"/surveys/{slug}").get_data(as_text=True)
    assert [a for a, _ in audit_actions(app)][-3:] == ["survey.closed", "survey.open", "survey.dates"]


def test_download_and_import_definitions(app, staff_client, make_survey):
    slug = make_survey()
    download = staff_client.get(f"/staff/surveys/{slug}/definition.yaml")
    assert download.headers["Content-Disposition"] == 'attachment; filename="all-types-v1.yaml"'
    assert load_definition(download.get_data(as_text=True)) == validate_definition(ALL_TYPES)
    as_json = staff_client.get(f"/staff/surveys/{slug}/definition.json?version=1")
    assert as_json.json["version"] == 1 and as_json.json["slug"] == slug
    assert staff_client.get(f"/staff/surveys/{slug}/definition.yaml?version=5").status_code == 404
    assert staff_client.get(f"/staff/surveys/{slug}/definition.xml").status_code == 404

    page = staff_client.get("/staff/surveys/import").get_data(as_text=True)
    token = csrf_token_from(page)
    upload = {"csrf_token": token, "file": (io.BytesIO(DEFAULT_SURVEY_FILE.read_bytes()), "reader-survey.yaml")}
    reply = staff_client.post("/staff/surveys/import", data=upload, content_type="multipart/form-data")
    assert reply.headers["Location"] == "/staff/surveys/reader-survey/edit"
    # Like New and Duplicate, an imported survey waits closed until staff open it.
    assert survey_state(app, "reader-survey")["versions"] == [1]
    assert survey_state(app, "reader-survey")["status"] == "closed"
    assert "It is closed until you open it." in staff_client.get(reply.headers["Location"]).get_data(as_text=True)

    broken = {"csrf_token": token, "file": (io.BytesIO(b"slug: x\ntitle: [\n"), "broken.yaml")}
    refused = staff_client.post("/staff/surveys/import", data=broken, content_type="multipart/form-data")
    assert refused.status_code == 422 and "Nothing was imported" in refused.get_data(as_text=True)
    binary = {"csrf_token": token, "file": (io.BytesIO(b"\xff\xfe\x00"), "x.yaml")}
    assert "isn&#39;t UTF-8" in staff_client.post("/staff/surveys/import", data=binary, content_type="multipart/form-data").get_data(as_text=True)
    empty = staff_client.post("/staff/surveys/import", data={"csrf_token": token}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "Please choose a file." in empty.get_data(as_text=True)


def test_unknown_survey_pages_are_404_for_staff(staff_client):
    assert staff_client.get("/staff/surveys/nope/edit").status_code == 404
    assert staff_client.get("/staff/surveys/nope/definition.yaml").status_code == 404
