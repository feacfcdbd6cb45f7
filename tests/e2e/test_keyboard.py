"""The main story with the keyboard only: Tab (and Shift+Tab) to move, Enter and Space to act, typing into fields;
never a mouse click, never a programmatic click or fill.

The adviser signs in, skips the menu with the skip link, registers a young person and submits the eligibility;
the employer answers a candidate forwarded to it. At each stop, the focused element must show its focus (an
outline or Bootstrap's focus ring)."""

import re

import pytest
from django.contrib.auth.models import Permission, User
from playwright.sync_api import expect

from parcours.models import Participant, Referral
from tests.e2e.conftest import PASSWORD, TIMEOUT_MS
from workflows.models import JournalEvent
from workflows.states import ReferralState

pytestmark = pytest.mark.e2e

FIRST, LAST = "Lison", "Marchetti"  # not among seed_demo's people
CRITERION = "Jeune de moins de 26 ans sans qualification (niveau 3 au plus)"
MAX_TABS = 250

# The focus shows when the focused element has an outline (2px or more) or a ring (a box-shadow spread of 2px or more)
# whose colour reaches 3:1 against what is behind the element (WCAG 1.4.11): a transparent or zero-width indicator,
# or Bootstrap's pale ring on the blue menu bar (about 1.1:1), does not count.
FOCUS_VISIBLE = r"""e => {
  const parse = text => {
    const m = /rgba?\(([^)]+)\)/.exec(text || '');
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = c => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const contrast = (x, y) => {
    const a = lum(x), b = lum(y);
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  };
  const mix = (c, bg, k) => c[k] * c.a + bg[k] * (1 - c.a);
  const over = (c, bg) => ({r: mix(c, bg, 'r'), g: mix(c, bg, 'g'), b: mix(c, bg, 'b')});
  let behind = {r: 255, g: 255, b: 255, a: 1};
  for (let n = e.parentElement; n; n = n.parentElement) {
    const c = parse(getComputedStyle(n).backgroundColor);
    if (c && c.a > 0.5) { behind = c; break; }
  }
  const s = getComputedStyle(e);
  if (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) {
    const c = parse(s.outlineColor);
    if (c && c.a > 0 && contrast(over(c, behind), behind) >= 3) return true;
  }
  if (s.boxShadow && s.boxShadow !== 'none') {
    for (const shadow of s.boxShadow.split(/,(?![^(]*\))/)) {
      if (shadow.includes('inset')) continue;
      const c = parse(shadow);
      const lengths = shadow.replace(/rgba?\([^)]*\)/, '').trim().split(/\s+/).map(parseFloat);
      const spread = lengths.length > 3 ? lengths[3] : 0;
      if (c && c.a > 0 && spread >= 2 && contrast(over(c, behind), behind) >= 3) return true;
    }
  }
  return false;
}"""


def _is_focused(locator):
    return locator.evaluate("e => e === document.activeElement")


def tab_to(page, locator, *, backwards=False):
    """Press Tab until `locator` has the focus (fails after MAX_TABS), then check the focus is visible."""
    expect(locator).to_have_count(1)
    for _ in range(MAX_TABS):
        if _is_focused(locator):
            break
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    else:
        pytest.fail(f"{locator} never got the focus with the keyboard")
    assert locator.evaluate(FOCUS_VISIBLE), f"{locator}: the focus is not visible"
    return locator


def keyboard_login(browser, demo, username, width=1366):
    context = browser.new_context(base_url=demo.url, locale="fr-FR", viewport={"width": width, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/connexion/")
    tab_to(page, page.get_by_label("Identifiant"))
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Mot de passe")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).not_to_have_url(re.compile(r"/connexion/"))
    return page


def test_adviser_intake_and_eligibility_then_employer_answer_with_the_keyboard_only(browser, demo):
    adviser = keyboard_login(browser, demo, "conseillere")

    # The first Tab reaches the skip link; Enter moves the focus to the content, past the menu.
    adviser.keyboard.press("Tab")
    skip = adviser.get_by_role("link", name="Aller au contenu")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    assert skip.evaluate(FOCUS_VISIBLE)
    adviser.keyboard.press("Enter")
    expect(adviser.locator("main#contenu")).to_be_focused()
    # From the content, the next Tab is inside it (the menu is skipped).
    adviser.keyboard.press("Tab")
    assert adviser.evaluate("document.activeElement.closest('main') !== null")

    # Menu → Jeunes → Inscrire un·e jeune (backwards from the content to the menu).
    tab_to(
        adviser,
        adviser.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Jeunes", exact=True),
        backwards=True,
    )
    adviser.keyboard.press("Enter")
    expect(adviser.get_by_role("heading", level=1)).to_have_text("Jeunes suivis")
    tab_to(adviser, adviser.get_by_role("link", name="Inscrire un·e jeune"))
    adviser.keyboard.press("Enter")

    # The intake form, field by field.
    for label, text in [("Prénom", FIRST), ("Nom", LAST)]:
        tab_to(adviser, adviser.get_by_role("textbox", name=label, exact=True))
        adviser.keyboard.type(text)
    tab_to(adviser, adviser.get_by_label("Date de naissance"))
    adviser.keyboard.type("03142006")  # the date field's segments, in the browser's own order (headless: mm dd yyyy)
    expect(adviser.get_by_label("Date de naissance")).to_have_value("2006-03-14")
    for label, text in [("Code postal", "69200"), ("Commune", "Vénissieux")]:
        tab_to(adviser, adviser.get_by_label(label))
        adviser.keyboard.type(text)
    qualification = tab_to(adviser, adviser.get_by_label("Niveau de qualification"))
    adviser.keyboard.type("Sans dipl")  # a closed select picks the option typed
    expect(qualification.locator("option:checked")).to_have_text(re.compile("^Sans diplôme"))
    tab_to(adviser, adviser.get_by_label("Courriel"))
    adviser.keyboard.type("lison.marchetti@example.org")
    tab_to(adviser, adviser.get_by_role("button", name="Enregistrer", exact=True))
    adviser.keyboard.press("Enter")
    expect(adviser.get_by_role("heading", level=1)).to_have_text(f"{FIRST} {LAST.upper()}")

    # Eligibility: a checkbox ticked with Space, the form sent with Space on its button.
    tab_to(adviser, adviser.get_by_role("link", name="Soumettre l'éligibilité"))
    adviser.keyboard.press("Enter")
    criterion = tab_to(adviser, adviser.get_by_label(CRITERION))
    adviser.keyboard.press("Space")
    expect(criterion).to_be_checked()
    tab_to(adviser, adviser.get_by_role("button", name="Soumettre l'éligibilité"))
    adviser.keyboard.press("Space")
    expect(adviser.get_by_role("status").filter(has_text="Éligibilité soumise")).to_be_visible()
    pathway = Participant.objects.get(first_name=FIRST, last_name=LAST).pathways.get()
    assert pathway.state == "eligibility_pending"

    # --- The employer answers a candidate forwarded to it, from the list on its home ----------------------------
    employer = keyboard_login(browser, demo, "employeur")
    waiting = employer.get_by_role("table", name=re.compile("Candidatures transmises qui attendent"))
    link = waiting.get_by_role("row").filter(has_text="Transmis à l'employeur").first.get_by_role("link")
    referral_url = link.get_attribute("href")
    tab_to(employer, link)
    employer.keyboard.press("Enter")
    expect(employer).to_have_url(re.compile(re.escape(referral_url) + "$"))
    tab_to(employer, employer.get_by_role("button", name="Retenir la candidature", exact=True))
    employer.keyboard.press("Enter")
    expect(
        employer.get_by_role("status").filter(has_text="Action « Retenir la candidature » enregistrée")
    ).to_be_visible()
    referral_pk = int(referral_url.strip("/").split("/")[-1])
    assert Referral.objects.get(pk=referral_pk).state == ReferralState.ACCEPTED
    assert JournalEvent.objects.filter(object_type="referral", object_id=referral_pk, action="accept").exists()


def test_the_focus_check_refuses_an_invisible_or_faint_indicator(browser, demo):
    """FOCUS_VISIBLE itself: it must fail on what the audit found (an indicator drawn in transparent, or Bootstrap's
    pale ring on the blue bar), and pass a white outline there."""
    context = browser.new_context(base_url=demo.url)
    try:
        page = context.new_page()
        page.set_content(
            '<div style="background:#0a58ca;padding:1rem">'
            '<a id="transparent" href="#" style="outline:0;box-shadow:rgba(0,0,0,0) 0 0 0 0">a</a> '
            '<a id="zero" href="#" style="outline:0 solid #fff">b</a> '
            '<a id="faint" href="#" style="outline:0;box-shadow:0 0 0 .25rem rgba(13,110,253,.25)">c</a> '
            '<a id="white" href="#" style="outline:3px solid #fff;outline-offset:2px">d</a> '
            '<a id="ring" href="#" style="outline:0;box-shadow:0 0 0 3px #fff">e</a></div>'
        )
        for invisible in ("transparent", "zero", "faint"):
            assert not page.locator(f"#{invisible}").evaluate(FOCUS_VISIBLE), invisible
        for visible in ("white", "ring"):
            assert page.locator(f"#{visible}").evaluate(FOCUS_VISIBLE), visible
    finally:
        context.close()


@pytest.mark.parametrize("width", [1366, 390], ids=["desktop", "burger-menu"])
def test_the_main_menu_links_show_their_focus(browser, demo, width):
    page = keyboard_login(browser, demo, "conseillere", width=width)
    menu = page.get_by_role("navigation", name="Navigation principale")
    if width < 992:  # the burger button opens the menu, with the keyboard
        tab_to(page, menu.get_by_role("button", name="Menu"))
        page.keyboard.press("Enter")
        expect(menu.get_by_role("link", name="Jeunes", exact=True)).to_be_visible()
    for name in ("Accueil", "Jeunes"):
        link = menu.get_by_role("link", name=name, exact=True)
        if link.count():
            tab_to(page, link)
    page.context.close()


def test_a_live_refresh_keeps_the_focus_and_the_ticked_boxes(login):
    """A live refresh replaces the content: the focus comes back to the same link (it has no id) and the boxes a
    supervisor ticked for a bulk assignment stay ticked; never BODY."""
    user = User.objects.get(username="facilitateur")
    user.user_permissions.add(Permission.objects.get(codename="supervise_worktask"))
    page = login("facilitateur")
    page.goto("/travail/a-prendre/")
    boxes = page.locator("input[type=checkbox][name=tasks]")
    expect(boxes.first).to_be_visible()
    ticked = boxes.last
    value = ticked.get_attribute("value")
    ticked.focus()
    page.keyboard.press("Space")
    expect(ticked).to_be_checked()
    link = page.locator("main table a[href]:not([id])").first
    href = link.get_attribute("href")
    link.focus()
    page.evaluate("document.getElementById('contenu').dataset.before = '1'")
    before = page.evaluate("window.parcoursLive.refreshes")
    page.evaluate("window.parcoursLive.resync()")
    page.wait_for_function("n => window.parcoursLive.refreshes > n", arg=before)
    assert page.evaluate("document.getElementById('contenu').dataset.before") is None  # the content was replaced
    assert page.evaluate("document.activeElement.tagName") == "A"
    assert page.evaluate("document.activeElement.getAttribute('href')") == href
    expect(page.locator(f"input[type=checkbox][name=tasks][value='{value}']")).to_be_checked()
