"""The survey builder's pages: a survey edited question by question with plain forms, one
change per step, the preview beside it. Each step validates its form, applies one function of
surveys/builder.py to the draft, commits, and goes back to the page it came from; a refused
step shows that page again with the reason beside the form and what was typed kept.

URLs are in surveys/blueprint.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from wtforms import SelectChoice

from accounts.roles import staff_required
from sight.db import utcnow
from sight.extensions import db
from surveys import builder
from surveys.builder import BuilderError
from surveys.builder_forms import (
    ConditionForm,
    NewPageForm,
    NewQuestionForm,
    NewSurveyForm,
    OptionForm,
    PageSettingsForm,
    QuestionSettingsForm,
    StepForm,
    TextsForm,
)
from surveys.definition import DefinitionError
from surveys.definition.walk import iter_questions
from surveys.drafts import (
    DraftChanged,
    apply_step,
    create_built_survey,
    discard_draft,
    draft_token,
    has_unsaved_draft,
    publish_draft,
    working_definition,
)
from surveys.models import Survey
from surveys.operations import survey_by_slug
from surveys.results import answers_hold_value
from surveys.retention import Retention

OUTCOMES = {
    "new_version": "Saved as version {n}: the earlier version has responses, which keep their questions and labels.",
    "updated": "Saved: version {n} was updated (it has no responses yet).",
    "unchanged": "Nothing to save: the draft is the same as version {n}.",
}
CHANGED_MESSAGE = (
    "Someone changed this survey's draft since this page was opened, so nothing was changed. "
    "The page now shows the latest draft: make your change again."
)


def _survey(slug: str) -> Survey:
    survey = survey_by_slug(db.session, slug)
    if survey is None:
        abort(404)
    return survey


def _question(definition: dict, qid: str) -> dict:
    question = next((q for q in iter_questions(definition) if q["id"] == qid), None)
    if question is None:
        abort(404)
    return question


def _page(definition: dict, page_id: str) -> dict:
    page = next((p for p in definition["pages"] if p["id"] == page_id), None)
    if page is None:
        abort(404)
    return page


# --- pages ---------------------------------------------------------------------------------------


@dataclass
class Failed:
    """A refused step: which form (by step and target) and why, to show beside it; `field`
    names the field of a hand-written form (an answer's row) that `problems` are about."""

    step: str
    target: str
    problems: list[str]
    field: str = ""


def _page_choices(definition: dict) -> list[SelectChoice]:
    return [
        SelectChoice(p["id"], f"Page {i}: {p['title']}" if p["title"] else f"Page {i}") for i, p in enumerate(definition["pages"], 1)
    ]


def _source_choices(sources: list[builder.ConditionSource]) -> list[SelectChoice]:
    return [SelectChoice("", "Always show it")] + [SelectChoice(s.id, s.label) for s in sources]


def _overview(survey: Survey, *, failed: Failed | None = None, forms: dict | None = None, status: int = 200):
    definition = working_definition(survey)
    forms = forms or {}
    texts = forms.get("texts") or TextsForm(formdata=None, prefix="texts", title=definition["title"], intro=definition["intro"], closing=definition["closing"])
    add_question = forms.get("add-question") or NewQuestionForm(formdata=None, prefix="add", page=definition["pages"][-1]["id"])
    add_question.page.choices = _page_choices(definition)
    add_page = forms.get("add-page") or NewPageForm(formdata=None, prefix="page")
    conditions = {
        q["id"]: builder.describe_condition(definition, q["show_if"]) for q in iter_questions(definition)
    } | {f"page:{p['id']}": builder.describe_condition(definition, p["show_if"]) for p in definition["pages"]}
    return (
        render_template(
            "surveys/staff/builder/overview.html",
            survey=survey,
            definition=definition,
            preview=definition,
            token=draft_token(definition),
            unsaved=has_unsaved_draft(survey),
            texts_form=texts,
            add_question_form=add_question,
            add_page_form=add_page,
            step_form=StepForm(formdata=None),
            conditions=conditions,
            failed=failed,
        ),
        status,
    )


@staff_required
def builder_overview(slug: str):
    return _overview(_survey(slug))


def _question_page(survey: Survey, qid: str, *, failed: Failed | None = None, forms: dict | None = None, status: int = 200):
    definition = working_definition(survey)
    question = _question(definition, qid)
    forms = forms or {}
    settings = forms.get("question")
    if settings is None:
        settings = QuestionSettingsForm(formdata=None)
        settings.fill_from(question)
    condition = forms.get("condition") or ConditionForm(formdata=None, source=(question["show_if"] or {}).get("question", ""))
    sources = builder.condition_sources(definition, question=qid)
    condition.source.choices = _source_choices(sources)
    chosen = _chosen_answers(question["show_if"])
    return (
        render_template(
            "surveys/staff/builder/question.html",
            survey=survey,
            definition=definition,
            question=question,
            preview={**definition, "pages": [{"id": "", "title": "", "show_if": None, "questions": [question]}]},
            token=draft_token(definition),
            settings_form=settings,
            condition_form=condition,
            sources=sources,
            chosen=request.form.getlist("answer") if forms.get("condition") else chosen,
            condition_text=builder.describe_condition(definition, question["show_if"]),
            option_form=forms.get("option") or OptionForm(formdata=None),
            step_form=StepForm(formdata=None),
            failed=failed,
        ),
        status,
    )


def _chosen_answers(condition: dict | None) -> list[str]:
    if not condition or "answered" in condition:
        return []
    wanted = condition["any_of"] if "any_of" in condition else [condition["equals"]]
    return [f"{condition['question']}={value}" for value in wanted]


@staff_required
def builder_question(slug: str, qid: str):
    return _question_page(_survey(slug), qid)


def _page_page(survey: Survey, page_id: str, *, failed: Failed | None = None, forms: dict | None = None, status: int = 200):
    definition = working_definition(survey)
    page = _page(definition, page_id)
    forms = forms or {}
    settings = forms.get("page") or PageSettingsForm(formdata=None, title=page["title"])
    condition = forms.get("condition") or ConditionForm(formdata=None, source=(page["show_if"] or {}).get("question", ""))
    sources = builder.condition_sources(definition, page=page_id)
    condition.source.choices = _source_choices(sources)
    return (
        render_template(
            "surveys/staff/builder/page.html",
            survey=survey,
            definition=definition,
            page=page,
            is_last=page is definition["pages"][-1],
            preview={**definition, "pages": [page]},
            token=draft_token(definition),
            settings_form=settings,
            condition_form=condition,
            sources=sources,
            chosen=request.form.getlist("answer") if forms.get("condition") else _chosen_answers(page["show_if"]),
            condition_text=builder.describe_condition(definition, page["show_if"]),
            step_form=StepForm(formdata=None),
            failed=failed,
        ),
        status,
    )


@staff_required
def builder_page(slug: str, page_id: str):
    return _page_page(_survey(slug), page_id)


# --- steps ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One kind of change: its form, what it does to a definition, and where it goes back to."""

    form: type[StepForm]
    change: Callable[[StepForm, dict, MultiDict], dict]
    back: str  # overview | question | page
    form_key: str = ""
    prefix: str = ""


def _add_question(form: NewQuestionForm, definition: dict, _data) -> dict:
    return builder.add_question(definition, form.page.data, form.spec())[0]


def _add_page(form: NewPageForm, definition: dict, _data) -> dict:
    return builder.add_page(definition, (form.page_title.data or "").strip(), form.spec())[0]


def _texts(form: TextsForm, definition: dict, _data) -> dict:
    return builder.update_texts(definition, title=form.title.data.strip(), intro=form.intro.data or "", closing=form.closing.data or "")


def _target() -> str:
    return request.form.get("target", "")


def _direction() -> str:
    return request.form.get("direction", "")


def _condition(before: str) -> Callable[[ConditionForm, dict, MultiDict], dict]:
    def change(form: ConditionForm, definition: dict, data: MultiDict) -> dict:
        target = _target()
        if data.get("remove") or not form.source.data:
            condition = None
        else:
            stray = form.stray_values(data)
            if stray:
                raise BuilderError(
                    "The answers you ticked belong to another question than the one chosen: "
                    "tick only answers listed under the chosen question.",
                    "source",
                )
            where = {"before_question": target} if before == "question" else {"before_page": target}
            condition = builder.make_condition(definition, form.source.data, form.wanted_values(data), **where)
        if before == "question":
            return builder.set_question_condition(definition, target, condition)
        return builder.set_page_condition(definition, target, condition)

    return change


def _option_change(action: str) -> Callable[[OptionForm, dict, MultiDict], dict]:
    def change(form: OptionForm, definition: dict, data: MultiDict) -> dict:
        qid, kind = _target(), form.kind.data
        if action == "add":
            return builder.add_option(definition, qid, form.label.data.strip(), (form.value.data or "").strip(), kind=kind)
        original = data.get("original", "")
        if action == "edit":
            new_value = (form.value.data or "").strip()
            # Only a change of value needs the (slower) look through the answers.
            answered = bool(new_value) and new_value != original and answers_hold_value(
                db.session, _survey(request.view_args["slug"]).id, qid, kind, original
            )
            return builder.update_option(
                definition, qid, original, label=form.label.data.strip(), new_value=new_value, kind=kind, answered=answered
            )
        if action == "move":
            return builder.move_option(definition, qid, original, _direction(), kind=kind)
        return builder.remove_option(definition, qid, original, kind=kind)

    return change


class _OptionButtonForm(OptionForm):
    """Moving or removing an answer needs no label."""

    label = None


STEPS: dict[str, Step] = {
    "texts": Step(TextsForm, _texts, "overview", "texts", "texts"),
    "add-question": Step(NewQuestionForm, _add_question, "overview", "add-question", "add"),
    "add-page": Step(NewPageForm, _add_page, "overview", "add-page", "page"),
    "move-question": Step(StepForm, lambda f, d, _: builder.move_question(d, _target(), _direction()), "overview"),
    "remove-question": Step(StepForm, lambda f, d, _: builder.remove_question(d, _target()), "overview"),
    "move-page": Step(StepForm, lambda f, d, _: builder.move_page(d, _target(), _direction()), "overview"),
    "remove-page": Step(StepForm, lambda f, d, _: builder.remove_page(d, _target()), "overview"),
    "question": Step(
        QuestionSettingsForm,
        lambda f, d, _: builder.update_question(d, _target(), f.settings(_question(d, _target())["type"])),
        "question",
        "question",
    ),
    "question-condition": Step(ConditionForm, _condition("question"), "question", "condition"),
    "add-option": Step(OptionForm, _option_change("add"), "question", "option"),
    "edit-option": Step(OptionForm, _option_change("edit"), "question"),
    "move-option": Step(_OptionButtonForm, _option_change("move"), "question"),
    "remove-option": Step(_OptionButtonForm, _option_change("remove"), "question"),
    "page": Step(PageSettingsForm, lambda f, d, _: builder.update_page(d, _target(), title=(f.title.data or "").strip()), "page", "page"),
    "page-condition": Step(ConditionForm, _condition("page"), "page", "condition"),
}


def _redraw(survey: Survey, step: Step, name: str, form: StepForm, problems: list[str], status: int, field: str = ""):
    target = _target() if name != "edit-option" else f"{_target()}:{request.form.get('original', '')}"
    failed = Failed(name, target, problems, field)
    forms = {step.form_key: form} if step.form_key else {}
    if step.back == "question":
        return _question_page(survey, _target(), failed=failed, forms=forms, status=status)
    if step.back == "page":
        return _page_page(survey, _target(), failed=failed, forms=forms, status=status)
    return _overview(survey, failed=failed, forms=forms, status=status)


@staff_required
def builder_step(slug: str, step: str):
    survey = _survey(slug)
    if step not in STEPS:
        abort(404)
    spec = STEPS[step]
    form = spec.form(prefix=spec.prefix) if spec.prefix else spec.form()
    if isinstance(form, NewQuestionForm) and form.page is not None:
        form.page.choices = _page_choices(working_definition(survey))
    if not form.validate():
        if "csrf_token" in form.errors:
            abort(400)
        return _redraw(survey, spec, step, form, [e for errors in form.errors.values() for e in errors], 422)
    token = request.form.get("draft", "")
    try:
        apply_step(survey, token, lambda definition: spec.change(form, definition, request.form), utcnow())
    except DraftChanged:
        db.session.rollback()
        return _redraw(survey, spec, step, form, [CHANGED_MESSAGE], 409)
    except BuilderError as exc:
        db.session.rollback()
        if spec.form_key and exc.field and exc.field in form:
            # The page draws this form again: the reason goes beside the field it is about.
            form[exc.field].errors = list(form[exc.field].errors) + [exc.message]
            return _redraw(survey, spec, step, form, [], 422)
        return _redraw(survey, spec, step, form, [exc.message], 422, exc.field)
    except DefinitionError as exc:
        db.session.rollback()
        return _redraw(survey, spec, step, form, exc.problems, 422)
    db.session.commit()
    if spec.back == "question" and step != "remove-question":
        return redirect(url_for("surveys.builder_question", slug=slug, qid=_target()) + "#" + request.form.get("anchor", "main"))
    if spec.back == "page":
        return redirect(url_for("surveys.builder_page", slug=slug, page_id=_target()))
    return redirect(url_for("surveys.builder_overview", slug=slug) + "#" + request.form.get("anchor", "main"))


@staff_required
def builder_publish(slug: str):
    survey = _survey(slug)
    form = StepForm()
    if not form.validate():
        abort(400)
    try:
        result = publish_draft(db.session, survey, request.form.get("draft", ""), current_user, utcnow())
    except DraftChanged:
        db.session.rollback()
        return _overview(survey, failed=Failed("publish", "", [CHANGED_MESSAGE]), status=409)
    db.session.commit()
    flash(OUTCOMES[result.outcome].format(n=result.version.number), "success")
    return redirect(url_for("surveys.builder_overview", slug=slug))


@staff_required
def builder_discard(slug: str):
    survey = _survey(slug)
    if not StepForm().validate():
        abort(400)
    discard_draft(survey, utcnow())
    db.session.commit()
    flash("Draft discarded: the builder shows the survey as saved.", "success")
    return redirect(url_for("surveys.builder_overview", slug=slug))


@staff_required
def builder_new():
    form = NewSurveyForm()
    problems: list[str] = []
    if form.validate_on_submit():
        title = form.title.data.strip()
        slug = form.slug.data or builder.slug_from_title(title)
        try:
            if survey_by_slug(db.session, slug) is not None:
                raise BuilderError(f"A survey with the address “{slug}” exists already: choose another.", "slug")
            definition = builder.new_definition(slug, title, form.spec())
        except BuilderError as exc:
            if exc.field in form:
                form[exc.field].errors = list(form[exc.field].errors) + [exc.message]
            else:
                problems = [exc.message]
        except DefinitionError as exc:
            problems = exc.problems
        else:
            result = create_built_survey(
                db.session, definition, current_user, utcnow(), retention=Retention.from_config(current_app.config)
            )
            db.session.commit()
            flash("Survey created. It is closed until you open it; add more questions below.", "success")
            return redirect(url_for("surveys.builder_overview", slug=result.survey.slug))
    status = 422 if form.errors or problems else 200
    return render_template("surveys/staff/builder/new.html", form=form, problems=problems), status
