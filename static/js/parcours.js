// Parcours: the little behaviour the pages need, without inline scripts (Content-Security-Policy friendly).
(function () {
  "use strict";

  // Print buttons (the information notice).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-print]");
    if (button) {
      event.preventDefault();
      window.print();
    }
  });

  // No select submits its form when changed: an arrow key on the language switch reloaded the page in another
  // language (WCAG 3.2.2). Each has its own submit button.

  // A form sent back with errors: its error summary (includes/form_fields.html) takes the focus, so that it is read
  // first; its links lead to the fields. Nothing else on the page has the focus yet (autofocus is dropped then).
  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary && (!document.activeElement || document.activeElement === document.body)) summary.focus();
  }

  // The live search of a list (data-search-status on the region htmx swaps, pointing to a polite status region):
  // only a short status is announced (« 12 jeunes trouvés » or the search's error), never the whole table; an error
  // marks the search box invalid and ties it to its message.
  document.addEventListener("htmx:afterSwap", function (event) {
    var region = event.detail && event.detail.target;
    if (!region || !region.hasAttribute("data-search-status")) return;
    var status = document.getElementById(region.getAttribute("data-search-status"));
    var found = region.querySelector("[data-found]");
    var error = region.querySelector("[data-search-error]");
    var input = document.getElementById(region.getAttribute("data-search-input") || "");
    if (input) {
      var errorId = input.id + "_error";
      var message = document.getElementById(errorId);
      if (error) {
        if (!message) {
          message = document.createElement("div");
          message.id = errorId;
          message.className = "invalid-feedback d-block";
          input.insertAdjacentElement("afterend", message);
        }
        message.textContent = error.getAttribute("data-search-error");
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", errorId);
        input.classList.add("is-invalid");
      } else {
        if (message) message.remove();
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
        input.classList.remove("is-invalid");
      }
    }
    if (status) {
      var text = error ? error.getAttribute("data-search-error") : found ? found.getAttribute("data-found") : "";
      // The same text twice in a row is announced again only if the region changes: clear it first.
      status.textContent = "";
      window.setTimeout(function () { status.textContent = text; }, 50);
    }
  });

  // A date box that could not read what was typed (31/02/2005: `validity.badInput`) sends an empty value: the form
  // says so in `<name>__bad`, so that the page answers « cette date n'existe pas » rather than « obligatoire », or
  // nothing on an optional date (parcours.web.forms.DateInput). Registered first: before the double-submit guard.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.querySelectorAll) return;
    form.querySelectorAll("input[data-bad-date]").forEach(function (marker) { marker.remove(); });
    form.querySelectorAll("input[type=date]").forEach(function (input) {
      if (!input.name || !input.validity || !input.validity.badInput) return;
      var marker = document.createElement("input");
      marker.type = "hidden";
      marker.name = input.name + "__bad";
      marker.value = "1";
      marker.setAttribute("data-bad-date", "");
      form.appendChild(marker);
    });
  }, true);

  // A form sent twice by a double click (or an impatient second click) would create a second follow-up, a second
  // operation…: a POST form already on its way ignores further submits for a few seconds (a download answered
  // in place, or an error, leaves the page: it can be sent again then). Coming back through the history resets it.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || (form.method || "").toLowerCase() !== "post" || event.defaultPrevented) return;
    if (form.getAttribute("data-sending") === "1") {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-sending", "1");
    window.setTimeout(function () { form.removeAttribute("data-sending"); }, 5000);
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sending]").forEach(function (form) { form.removeAttribute("data-sending"); });
  });

  // --- Live pages -------------------------------------------------------------------------------------------
  // The server pushes the journal events the viewer's team may see (ids, states and labels only; `mine` says
  // whether this viewer did it). A page marks its live parts with data-live-on (what concerns them: an object type
  // such as "referral", "participant:12" for one young person's objects, "others" for anyone else's action, "any");
  // when an event concerns a part, the page is fetched again — through the same view, so the same scope rules — and
  // the part is swapped. An action button that disappears because someone else acted is announced.
  // After a lost connection, the page asks for what it missed since the last event id it saw.
  var live = (window.parcoursLive = { lastId: null, seen: {}, log: [], state: "closed", refreshes: 0 });
  var TASK_TYPES = { task: 1, referral: 1, pathway: 1, placement: 1, timer: 1, participant: 1 };
  var retry = 0;
  var scheduled = {};
  var scheduledEvents = [];
  var refreshTimer = null;
  var countsTimer = null;

  function concerns(region, message) {
    var tokens = (region.getAttribute("data-live-on") || "").split(/\s+/);
    for (var i = 0; i < tokens.length; i++) {
      var token = tokens[i];
      if (!token) continue;
      if (token === "any") return true;
      if (token === "others") {
        if (!message.mine) return true;
        continue;
      }
      var parts = token.split(":");
      if (parts.length === 2) {
        if (parts[0] === "participant" && String(message.participant_id) === parts[1]) return true;
        if (parts[0] === message.object_type && String(message.object_id) === parts[1]) return true;
      } else if (token === message.object_type) {
        return true;
      }
    }
    return false;
  }

  function actionKeys(root) {
    var keys = {};
    root.querySelectorAll("[data-action]").forEach(function (element) {
      keys[element.getAttribute("data-action")] = element.getAttribute("data-action-label") || element.textContent.trim();
    });
    return keys;
  }

  function announce(text) {
    var box = document.getElementById("live-messages");
    if (!box) return;
    var alert = document.createElement("div");
    alert.className = "alert alert-warning alert-dismissible";
    alert.setAttribute("role", "status");
    alert.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "alert");
    // Its name in the page's language (rendered by base.html).
    close.setAttribute("aria-label", box.getAttribute("data-close-label") || "Fermer");
    alert.appendChild(close);
    box.appendChild(alert);
  }

  // --- What a refresh keeps: the focus and what the user ticked or typed ---------------------------------------
  var FOCUSABLE = "a[href], button, input:not([type='hidden']), select, textarea, summary, [tabindex]:not([tabindex='-1'])";

  function fieldKey(element) {
    if (!element.name) return null;
    var type = (element.type || "").toLowerCase();
    return element.name + (type === "checkbox" || type === "radio" ? "\u0000" + element.value : "");
  }

  // How to find "the same" element in the fresh copy of a region: its id; else its field name (and value, for a
  // box); else its link target, or its data-action; else its place among the region's focusable elements.
  function keyOf(region, element) {
    var focusables = Array.prototype.slice.call(region.querySelectorAll(FOCUSABLE));
    return {
      id: element.id || "",
      field: fieldKey(element),
      formAction: element.form ? element.form.getAttribute("action") || "" : "",
      href: element.tagName === "A" ? element.getAttribute("href") : null,
      action: element.closest("[data-action]") ? element.closest("[data-action]").getAttribute("data-action") : null,
      text: (element.textContent || "").trim(),
      index: focusables.indexOf(element),
    };
  }

  function findByKey(region, key) {
    if (key.id) return document.getElementById(key.id);
    var candidates;
    if (key.field) {
      candidates = Array.prototype.filter.call(region.querySelectorAll("input, select, textarea, button"), function (e) {
        return fieldKey(e) === key.field && (!e.form || (e.form.getAttribute("action") || "") === key.formAction);
      });
      if (candidates.length) return candidates[0];
    }
    if (key.href !== null) {
      candidates = Array.prototype.filter.call(region.querySelectorAll("a[href]"), function (e) {
        return e.getAttribute("href") === key.href;
      });
      if (candidates.length) return candidates[0];
    }
    if (key.action) {
      var acting = region.querySelector('[data-action="' + CSS.escape(key.action) + '"]');
      if (acting && !acting.matches(FOCUSABLE)) acting = acting.querySelector(FOCUSABLE);
      if (acting) return acting;
    }
    var focusables = region.querySelectorAll(FOCUSABLE);
    var same = focusables[key.index];
    if (same && (same.textContent || "").trim() === key.text) return same;
    return null;
  }

  function restoreFocus(region, key) {
    var target = findByKey(region, key);
    if (target && typeof target.focus === "function" && !target.disabled) {
      target.focus();
      if (document.activeElement === target) return;
    }
    // Not found (the button left with the action someone else took): the focus goes to the content, not to BODY.
    var main = document.getElementById("contenu");
    if (main) main.focus();
  }

  // The boxes ticked (or unticked), the choices made and the texts typed since the page came, by field.
  function userState(region) {
    var state = {};
    region.querySelectorAll("input, select, textarea").forEach(function (element) {
      var key = fieldKey(element);
      if (!key) return;
      var type = (element.type || "").toLowerCase();
      if (type === "checkbox" || type === "radio") {
        if (element.checked !== element.defaultChecked) state[key] = { checked: element.checked };
      } else if (type === "hidden" || type === "submit" || type === "button" || type === "file") {
        return;
      } else if (element.tagName === "SELECT") {
        var changed = Array.prototype.some.call(element.options, function (o) { return o.selected !== o.defaultSelected; });
        if (changed) state[key] = { value: element.value };
      } else if (element.value !== element.defaultValue) {
        state[key] = { value: element.value };
      }
    });
    return state;
  }

  function restoreState(region, state) {
    region.querySelectorAll("input, select, textarea").forEach(function (element) {
      var key = fieldKey(element);
      if (!key || !(key in state)) return;
      if ("checked" in state[key]) element.checked = state[key].checked;
      else element.value = state[key].value;
    });
  }

  function refresh() {
    refreshTimer = null;
    var ids = Object.keys(scheduled);
    var events = scheduledEvents;
    scheduled = {};
    scheduledEvents = [];
    if (!ids.length) return;
    fetch(location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } })
      .then(function (response) {
        if (response.status === 404 || response.status === 403) {
          announce("Ce que vous consultiez n'est plus accessible : quelqu'un a agi avant vous.");
          return null;
        }
        if (!response.ok || response.redirected) return null;
        return response.text();
      })
      .then(function (html) {
        if (html === null || html === undefined) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var byOthers = events.filter(function (e) { return !e.mine; });
        ids.forEach(function (id) {
          var current = document.getElementById(id);
          var replacement = fresh.getElementById(id);
          if (!current || !replacement) return;
          var before = actionKeys(current);
          var focused = document.activeElement && current.contains(document.activeElement) ? document.activeElement : null;
          var focusKey = focused ? keyOf(current, focused) : null;
          var typed = userState(current);
          current.replaceWith(document.adoptNode(replacement));
          restoreState(replacement, typed);
          var after = actionKeys(replacement);
          if (byOthers.length) {
            Object.keys(before).forEach(function (key) {
              if (!(key in after)) {
                var last = byOthers[byOthers.length - 1];
                announce("Quelqu'un a agi avant vous (" + last.object_label + " : « " + last.action_label + " »" +
                  (last.to_label ? ", désormais " + last.to_label : "") + ") : « " + before[key] + " » n'est plus possible.");
              }
            });
          }
          if (focusKey) restoreFocus(replacement, focusKey);
        });
        live.refreshes += 1;
        document.dispatchEvent(new CustomEvent("parcours:refreshed"));
      })
      .catch(function () { /* the next event or a reload will catch up */ });
  }

  function loadCounts() {
    countsTimer = null;
    var badge = document.getElementById("task-count");
    if (!badge || !badge.dataset.url) return;
    fetch(badge.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (counts) {
        if (!counts) return;
        // Mine, then (after "+") those my team may take.
        badge.textContent = counts.inbox + (counts.queue ? " + " + counts.queue : "");
        // The wording in the page's language, with its {inbox} and {queue} (rendered by base.html).
        var label = badge.getAttribute("data-label") || "{inbox} tâche(s) à moi, {queue} à prendre";
        badge.title = label.replace("{inbox}", counts.inbox).replace("{queue}", counts.queue);
        badge.setAttribute("aria-label", badge.title);
        badge.classList.toggle("d-none", !counts.inbox && !counts.queue);
      })
      .catch(function () {});
  }

  function schedule(message) {
    var touched = false;
    document.querySelectorAll("[data-live-on]").forEach(function (region) {
      if (region.id && concerns(region, message)) {
        scheduled[region.id] = true;
        touched = true;
      }
    });
    if (touched) {
      scheduledEvents.push(message);
      if (!refreshTimer) refreshTimer = setTimeout(refresh, 150);
    }
    if (TASK_TYPES[message.object_type] && !countsTimer) countsTimer = setTimeout(loadCounts, 300);
  }

  function resyncAll() {
    document.querySelectorAll("[data-live-on]").forEach(function (region) {
      if (region.id) scheduled[region.id] = true;
    });
    if (!refreshTimer) refreshTimer = setTimeout(refresh, 0);
    loadCounts();
  }

  function receive(message) {
    if (message.type === "resync") {
      resyncAll();
      return;
    }
    if (message.type !== "event" || live.seen[message.event_id]) return;
    live.seen[message.event_id] = true;
    live.lastId = live.lastId === null ? message.event_id : Math.max(live.lastId, message.event_id);
    live.log.push({ id: message.event_id, at: Date.now(), replayed: !!message.replayed, object: message.object_type + ":" + message.object_id, action: message.action });
    if (!message.mine) {
      var badge = document.getElementById("notification-count");
      if (badge) {
        badge.textContent = (parseInt(badge.textContent, 10) || 0) + 1;
        badge.classList.remove("d-none");
      }
    }
    schedule(message);
  }

  function connect() {
    var body = document.body;
    if (!body || body.dataset.live !== "1" || !("WebSocket" in window)) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/notifications/");
    live.socket = socket;
    socket.onopen = function () {
      retry = 0;
      var resume = live.lastId !== null ? { type: "resume", since: live.lastId } : { type: "resume", since_time: Number(body.dataset.liveAt) };
      socket.send(JSON.stringify(resume));
      live.state = "open";
      body.dataset.liveState = "open";
    };
    socket.onmessage = function (event) {
      try {
        receive(JSON.parse(event.data));
      } catch (error) { /* a malformed message is ignored */ }
    };
    socket.onclose = function (event) {
      live.state = "closed";
      body.dataset.liveState = "closed";
      // Signed out (in another tab) or no longer a member: the feed ends; the next page asks to sign in.
      if (event && (event.code === 4401 || event.code === 4403)) live.stopped = true;
      if (live.stopped) return;
      retry += 1;
      setTimeout(connect, Math.min(30000, 500 * Math.pow(2, Math.min(retry, 6))));
    };
  }

  // Fetches every live part again now (what a "resync" message does; the browser tests call it too).
  live.resync = resyncAll;

  function start() {
    focusErrorSummary();
    connect();
    loadCounts();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
