"""A form sent twice by a double click: the page's script lets the first submit through and stops the second (a
second follow-up, a second operation…), until the page is left or a few seconds have passed."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.e2e

# Two submits of the intake form in a row, as a double click sends them: what the listeners after the page's own saw
# (whether each was stopped). The first is stopped here, after the page's listener, so that the page stays.
TWO_SUBMITS = """() => {
  const form = document.querySelector("main form[method=post]");
  const stopped = [];
  document.addEventListener("submit", (event) => { stopped.push(event.defaultPrevented); event.preventDefault(); });
  form.requestSubmit();
  form.requestSubmit();
  return stopped;
}"""


def test_a_double_click_sends_a_form_once(login):
    adviser = login("conseillere")
    adviser.goto(reverse("adviser:participant_create"))
    adviser.wait_for_load_state("load")
    assert adviser.evaluate(TWO_SUBMITS) == [False, True]


def test_a_date_the_calendar_lacks_typed_in_a_date_box_is_said_to_be_one(login):
    """A date box that cannot read what was typed sends an empty value: the page said « Ce champ est obligatoire »
    to someone who had typed a date (found from outside, with the keyboard). The page's script names the box."""
    adviser = login("conseillere")
    adviser.goto(reverse("adviser:participant_create"))
    adviser.wait_for_load_state("load")
    box = adviser.locator("#id_birth_date")
    box.click()
    # Headless Chromium's date box reads month/day/year (en-US): 02/31/2005 is a day the calendar lacks.
    box.press_sequentially("02312005")
    assert adviser.evaluate("() => document.querySelector('#id_birth_date').validity.badInput")
    adviser.locator("main form[method=post] button[type=submit]").first.click()
    adviser.wait_for_load_state("load")
    body = adviser.content()
    assert "Cette date n&#x27;existe pas : vérifiez le jour et le mois." in body or (
        "Cette date n'existe pas : vérifiez le jour et le mois." in body
    )
    assert "Date de naissance : Ce champ est obligatoire." not in body
