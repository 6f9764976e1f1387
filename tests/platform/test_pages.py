"""Every page a person sees, in Chromium at 390 px (a phone) and 1280 px (a laptop): axe-core
finds no serious or critical problem, nothing makes the page scroll sideways (a wide table
scrolls in its own box), every field shown in error is marked aria-invalid, the
Content-Security-Policy blocks nothing, and a screenshot of each is
written to screenshots/ (see the README) for anyone to look at.

axe-core's JavaScript comes from a registry package (axe-playwright-python bundles it) and is
injected by Playwright: nothing is fetched from the network. The pages do not depend on the
database engine, so this runs once, in the SQLite run of `make test`.
"""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pyotp
import pytest
from axe_playwright_python.base import AXE_SCRIPT
from sqlalchemy import select, update

from accounts.models import Role
from accounts.passwords import hash_password
from identity.operations import ClientValues, register_client
from membership.context import context_for
from membership.lapse import opt_out_token
from membership.models import Benefit, GiftKind
from membership.statements import financial_year_of
from sight.db import utcnow
from sight.extensions import db
from surveys.models import Response
from surveys.operations import seed_default_survey
from tests.helpers import PASSWORD, make_user
from tests.membership.staff.conftest import add_annual, add_gift, make_donor

pytestmark = [pytest.mark.browser, pytest.mark.pages]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"
WIDTHS = (390, 1280)
# Not pages: files, JSON, the health check, and a counted redirect.
NOT_PAGES = {
    "static", "sight.healthz", "accounts.download_data", "membership.staff_members_export",
    "surveys.staff_codebook", "surveys.manage_download", "surveys.staff_export", "surveys.staff_chart",
    "surveys.staff_crosstab_csv", "surveys.take_ask", "membership.statement_pdf", "membership.staff_retention_export",
    # The redirect to the first of the selected responses (its page is opened).
    "surveys.staff_first_response",
    # Sign in with Sight+: JSON for sites' servers, not pages.
    "identity.discovery", "identity.jwks_document", "identity.userinfo",
}
# What sticks out past the right edge of the window, for the message when a page scrolls sideways.
WIDEST = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .filter(e => !e.parentElement || e.parentElement.getBoundingClientRect().right <= document.documentElement.clientWidth + 0.5)
  .slice(0, 3)
  .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
            + (typeof e.className === 'string' && e.className ? '.' + e.className.split(' ').join('.') : '')
            + ' +' + Math.round(e.getBoundingClientRect().right - document.documentElement.clientWidth) + 'px')"""

# Form controls shown in error (inside .has-error) that do not say so to assistive technology.
UNMARKED_ERRORS = """[...document.querySelectorAll('.has-error input, .has-error select, .has-error textarea')]
  .filter(e => !['hidden', 'submit', 'button'].includes(e.type) && e.getAttribute('aria-invalid') !== 'true')
  .map(e => e.id || e.name)"""


class Proof:
    """Visits pages in one browser context and checks each at both widths."""

    def __init__(self, browser, base: str, role: str, problems: list, visited: set):
        self.context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
        self.page = self.context.new_page()
        # The reconcile page asks Stripe (localstripe) before it answers: slow on a busy machine.
        self.page.set_default_timeout(60_000)
        self.base, self.role, self.problems, self.visited = base, role, problems, visited
        self.console: list[str] = []
        self.page.on("console", lambda message: self.console.append(message.text) if message.type == "error" else None)

    def open(self, path: str, name: str | None = None) -> None:
        response = self.page.goto(self.base + path)
        self.visited.add(path)
        if response.status >= 500:
            self.problems.append(f"{self.role} {name or path}: the server failed ({response.status})")
        self.check(name or path)

    def check(self, name: str) -> None:
        """Check the page the browser shows now, at each width."""
        path = re.sub(r"^https?://[^/]+", "", self.page.url).split("?")[0]
        self.visited.add(path)
        slug = re.sub(r"[^a-z0-9]+", "-", f"{self.role} {name}".lower()).strip("-")
        for width in WIDTHS:
            self.page.set_viewport_size({"width": width, "height": 900})
            self.page.evaluate(AXE_SCRIPT)
            results = self.page.evaluate("axe.run(document, {resultTypes: ['violations']})")
            for violation in results["violations"]:
                if violation["impact"] in ("serious", "critical"):
                    targets = [node["target"] for node in violation["nodes"]][:3]
                    self.problems.append(f"{self.role} {name} at {width}px: {violation['id']} ({violation['impact']}): "
                                         f"{violation['help']} {targets}")
            overflow = self.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if overflow > 0:
                self.problems.append(f"{self.role} {name} at {width}px: scrolls sideways by {overflow}px "
                                     f"(wider: {self.page.evaluate(WIDEST)})")
            self.page.screenshot(path=SCREENSHOTS / f"{slug}-{width}.png", full_page=True)
        unmarked = self.page.evaluate(UNMARKED_ERRORS)
        if unmarked:
            self.problems.append(f"{self.role} {name}: fields in error without aria-invalid=\"true\": {unmarked}")
        csp = [text for text in self.console if "Content Security Policy" in text]
        if csp:
            self.problems.append(f"{self.role} {name}: blocked by the Content-Security-Policy: {csp}")
        self.console.clear()
        self.page.set_viewport_size({"width": WIDTHS[0], "height": 900})

    def submit_empty(self, path: str, button: str, name: str) -> None:
        """The page's form sent with nothing filled in: its error state."""
        self.page.goto(self.base + path)
        self.page.get_by_role("button", name=button).first.click()
        self.page.wait_for_load_state()
        self.check(name)

    def sign_in(self, email: str, totp_secret: str | None = None) -> None:
        self.page.goto(self.base + "/sign-in")
        self.page.get_by_label("Email address").fill(email)
        self.page.get_by_label("Password", exact=True).fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        if totp_secret:
            self.page.wait_for_url("**/sign-in/totp")
            self.check("second factor")
            self.page.get_by_label(re.compile("code", re.I)).fill(pyotp.TOTP(totp_secret).now())
            self.page.get_by_role("button", name=re.compile("Sign in|Confirm|Continue")).click()
        self.page.wait_for_url(re.compile(r"/(account|staff/?)$"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def people(app):
    """A donor with a gift and an annual gift, an admin with an authenticator, the default survey
    with one finished response, and a benefit."""
    admin = make_user(app, "admin@example.com", role=Role.admin, name="Ada Admin", totp=True)
    with app.app_context():
        session = db.session
        seed_default_survey(session, app)
        donor = make_donor(session, "donor@example.com", "Dana Donor")
        donor.user.password_hash = hash_password(PASSWORD)
        entry = add_gift(session, donor, 2600, utcnow() - timedelta(days=3))
        add_annual(session, donor, 5000)
        add_gift(session, donor, 5000, utcnow() - timedelta(days=2), kind=GiftKind.recurring)
        benefit_id = session.scalar(db.select(Benefit.id).limit(1))
        manage_token = context_for(app).links.manage_token(donor.id, donor.manage_version)
        site, _ = register_client(session, ClientValues("The Sight website", ["https://sight.example/callback"],
                                                         ["openid", "email", "sight_plus"]), None, utcnow())
        ids = {"donor_user": donor.user_id, "entry": entry.id, "benefit": benefit_id, "manage": manage_token,
               "site": site.id, "site_client_id": site.client_id,
               "stop_reminders": opt_out_token(app.config["SECRET_KEY"], donor.user_id),
               "statement_year": financial_year_of(utcnow(), app.config["DISPLAY_TIMEZONE"], 7)}
        session.commit()
    return {"admin": admin, **ids}


def take_the_survey(proof: Proof, app) -> None:
    page = proof.page
    proof.open("/surveys/reader-survey", "survey intro")
    page.get_by_role("button", name="Start the survey").click()
    page.wait_for_url("**/page/1")
    proof.check("survey page 1")
    page.get_by_role("button", name="Next").click()
    page.wait_for_load_state()
    proof.check("survey page 1 with errors")
    page.locator("input[name=read_frequency]").first.check()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/page/2")
    proof.check("survey page 2")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/page/3")
    proof.check("survey page 3")
    page.locator("input[name=recommend]").nth(8).check()
    with app.app_context():  # the survey asks for at least 20 seconds of a reader's time
        db.session.execute(update(Response).values(started_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url("**/thanks")
    proof.check("survey thanks")
    proof.open("/surveys/reader-survey/my-answers", "the reader's own answers")


def test_every_page_at_phone_and_laptop_width_passes_axe_and_the_csp(app, live_server, browser, people):
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir()
    problems: list[str] = []
    visited: set[str] = set()

    reader = Proof(browser, live_server, "anonymous", problems, visited)
    reader.open("/", "home")
    for path in ("/sight-plus", "/sight-plus/benefits", "/donate", "/sign-in", "/register",
                 "/sign-in/link", "/password/reset"):
        reader.open(path)
    for path, button in (("/donate", "Continue to payment"), ("/sign-in", "Sign in"), ("/register", "Create account"),
                         ("/sign-in/link", "Email me"), ("/password/reset", "Email me")):
        reader.submit_empty(path, button, f"{path} with errors")
    for path in ("/no-such-page", "/password/reset/not-a-real-token", "/sign-in/link/not-a-real-token",
                 "/manage/not-a-real-token", "/donate/pay/not-a-real-token", "/donate/thanks/not-a-real-token",
                 "/surveys/reader-survey/resume/not-a-real-token"):
        reader.open(path, f"{path} (a bad link)")
    reader.open(f"/sight-plus/reminders/stop/{people['stop_reminders']}", "stop lapse reminders")
    take_the_survey(reader, app)
    reader.page.goto(live_server + "/donate")
    reader.page.get_by_label("$26").check()
    reader.page.get_by_label("Your name").fill("Pat Reader")
    reader.page.get_by_label("Email address").fill("pat@example.com")
    reader.page.get_by_role("button", name="Continue to payment").click()
    reader.page.wait_for_url("**/donate/pay/*")
    reader.check("payment")
    reader.close()

    donor = Proof(browser, live_server, "donor", problems, visited)
    donor.sign_in("donor@example.com")
    for path in ("/account", f"/account/receipts/{people['entry']}", "/account/settings", "/account/settings/password",
                 "/account/settings/close", "/account/settings/second-factor", "/sign-out"):
        donor.open(path)
    donor.open(f"/account/statements/{people['statement_year']}", "giving statement")
    donor.open(f"/manage/{people['manage']}", "manage an annual gift")
    donor.open(f"/manage/{people['manage']}/card", "change the card of an annual gift")
    donor.submit_empty("/account/settings/password", "Save", "password with errors")
    sign_in_with_sight_plus = "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": people["site_client_id"], "redirect_uri": "https://sight.example/callback",
        "scope": "openid email sight_plus", "state": "s", "nonce": "n", "code_challenge": "E" * 43,
        "code_challenge_method": "S256"})
    donor.open(sign_in_with_sight_plus, "consent to a site")
    donor.open("/oauth/authorize?client_id=no-such-site&response_type=code", "a site's bad sign-in link")
    donor.open("/oauth/end-session", "a site signs the reader out")
    donor.close()

    staff = Proof(browser, live_server, "staff", problems, visited)
    staff.sign_in("admin@example.com", people["admin"].totp_secret)
    for path in ("/staff/", "/staff/audit", "/staff/people", "/staff/benefits", "/staff/benefits/new",
                 f"/staff/benefits/{people['benefit']}", "/staff/members", f"/staff/members/{people['donor_user']}",
                 "/staff/members/reconcile", "/staff/members/statements", "/staff/members/retention",
                 "/staff/members/retention?by=year", "/staff/surveys", "/staff/surveys/new", "/staff/surveys/import",
                 "/staff/surveys/reader-survey", "/staff/surveys/reader-survey/answers/comment",
                 "/staff/surveys/reader-survey/edit", "/staff/surveys/reader-survey/duplicate",
                 "/staff/surveys/reader-survey/promise", "/staff/surveys/reader-survey/crosstab",
                 "/staff/surveys/reader-survey/sight-plus", "/staff/surveys/reader-survey/responses",
                 "/staff/surveys/new/builder", "/staff/surveys/reader-survey/builder",
                 "/staff/surveys/reader-survey/builder/pages/reading",
                 "/staff/surveys/reader-survey/builder/questions/read_frequency",
                 "/staff/sites", "/staff/sites/new", f"/staff/sites/{people['site']}"):
        staff.open(path)
    with app.app_context():
        answered = db.session.scalars(select(Response.id).where(Response.submitted_at.is_not(None))).first()
    staff.open("/staff/surveys/reader-survey/erase", "erase a response: find it")
    staff.open(f"/staff/surveys/reader-survey/responses/{answered}/erase", "erase a response: confirm")
    staff.submit_empty("/staff/benefits/new", "Save", "new benefit with errors")
    staff.submit_empty("/staff/sites/new", "Save", "new site with errors")
    staff.submit_empty("/staff/surveys/new", "Check", "new survey with errors")
    staff.submit_empty("/staff/surveys/new/builder", "Create the survey", "new survey in the builder with errors")
    staff.close()

    first_sign_in = Proof(browser, live_server, "new staff", problems, visited)
    make_user(app, "new.staff@example.com", role=Role.staff)
    first_sign_in.page.goto(live_server + "/sign-in")
    first_sign_in.page.get_by_label("Email address").fill("new.staff@example.com")
    first_sign_in.page.get_by_label("Password", exact=True).fill(PASSWORD)
    first_sign_in.page.get_by_role("button", name="Sign in").click()
    first_sign_in.page.wait_for_url("**/sign-in/totp/setup")
    first_sign_in.check("second factor set-up")
    first_sign_in.close()

    adapter = app.url_map.bind("localhost")
    seen = {adapter.match(path, method="GET")[0] for path in visited if _routable(adapter, path)}
    pages = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods} - NOT_PAGES
    assert not pages - seen, f"pages this test never opened: {sorted(pages - seen)}"
    assert not problems, "\n".join(problems)


def _routable(adapter, path: str) -> bool:
    try:
        adapter.match(path, method="GET")
    except Exception:
        return False
    return True
