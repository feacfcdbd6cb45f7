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

  // Selects that submit their form when changed (the language switch), instead of an inline onchange.
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-autosubmit]") && event.target.form) {
      event.target.form.submit();
    }
  });

  // Live notifications: count the events pushed to the current team (ids, states and labels only).
  function connect() {
    var body = document.body;
    if (!body || body.dataset.live !== "1" || !("WebSocket" in window)) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/notifications/");
    var count = 0;
    socket.onmessage = function () {
      var badge = document.getElementById("notification-count");
      if (!badge) return;
      count += 1;
      badge.textContent = count;
      badge.classList.remove("d-none");
    };
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
})();
