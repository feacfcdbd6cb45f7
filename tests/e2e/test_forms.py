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
