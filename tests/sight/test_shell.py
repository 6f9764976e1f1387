from sight import create_app


def test_home_invites_readers_to_the_survey_and_sight_plus(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Sight+" in html
    assert 'href="/surveys/reader-survey"' in html


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["database"] == "ok"


def test_healthz_is_503_when_the_database_does_not_answer(make_app, tmp_path):
    unreachable = make_app(
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    )
    response = unreachable.test_client().get("/healthz")
    assert response.status_code == 503


def test_testing_flag_is_set_by_the_factory(app):
    assert app.testing
    assert not create_app({"ENVIRON": {}, "SECRET_KEY": "x"}).testing
