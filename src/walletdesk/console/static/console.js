// WalletDesk console: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  // Selects marked data-autosubmit (presence, language) save as soon as they change.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      if (select.form) select.form.submit();
    });
  });

  var body = document.body;
  var eventsUrl = body.dataset.events;
  if (!eventsUrl || !window.EventSource) return;

  var page = body.dataset.page || "";
  var ticketNumber = body.dataset.ticket || "";
  var badge = document.getElementById("live-badge");
  var filters = document.getElementById("inbox-filters");
  // The agent has narrowed, searched or paged the list: keep their view, only show the badge.
  var touched = body.dataset.touched === "1";
  var changed = 0;
  var refreshTimer = null;

  if (filters) {
    filters.addEventListener("input", function () { touched = true; });
    filters.addEventListener("change", function () { touched = true; });
  }

  function showBadge(text) {
    if (!badge) return;
    badge.textContent = text;
    badge.hidden = false;
  }

  function badgeText() {
    if (page === "ticket") return body.dataset.thisChanged;
    if (changed === 1) return body.dataset.changedOne;
    return (body.dataset.changedMany || "").replace("{n}", String(changed));
  }

  function refreshList() {
    refreshTimer = null;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("refresh failed");
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("ticket-list");
        var current = document.getElementById("ticket-list");
        if (!fresh || !current || touched) return;
        current.replaceWith(document.importNode(fresh, true));
        changed = 0;
        if (badge) badge.hidden = true;
      })
      .catch(function () { showBadge(badgeText()); });
  }

  var source = new EventSource(eventsUrl);
  // The server subscribes before it answers: from "open" on, no change is missed.
  source.addEventListener("open", function () { body.dataset.live = "on"; });
  source.addEventListener("error", function () { delete body.dataset.live; });
  source.addEventListener("ticket", function (message) {
    var event;
    try { event = JSON.parse(message.data); } catch (e) { return; }
    if (page === "ticket") {
      // "resync": the server missed events, so this ticket may have changed too.
      if (event.number === ticketNumber || event.type === "resync") showBadge(badgeText());
      return;
    }
    if (page !== "inbox") return;
    changed += 1;
    if (touched) {
      showBadge(badgeText());
    } else if (refreshTimer === null) {
      // Several events in a burst (a reply also changes status) cause one reload.
      refreshTimer = window.setTimeout(refreshList, 800);
    }
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
