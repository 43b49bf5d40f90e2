// Keeps an open day page in step with the other staff screens: every few seconds it fetches
// the live part of the page and swaps it in. Without JavaScript the page still works; it
// just needs the Refresh link. Nothing here is sent anywhere but this server.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var printButton = document.querySelector("[data-print]");
  if (printButton) {
    printButton.hidden = false;
    printButton.addEventListener("click", function () { window.print(); });
  }
  if (!live || !window.fetch) { return; }
  var url = live.getAttribute("data-refresh-url");
  var seconds = Math.max(2, parseInt(live.getAttribute("data-refresh-seconds"), 10) || 5);
  var last = live.innerHTML;

  // Never pull the page from under someone's fingers: not while they type, choose or
  // have a confirmation open.
  function busy() {
    var active = document.activeElement;
    if (active && live.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) {
      return true;
    }
    return live.querySelector("details[open]") !== null;
  }

  function refresh() {
    if (document.hidden || busy()) { return; }
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        // Signed out (idle, or from another tab): show the sign-in page.
        if (response.redirected || response.status === 401 || response.status === 403) {
          window.location.reload();
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null || html === last || busy()) { return; }
        last = html;
        live.innerHTML = html;
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }

  window.setInterval(refresh, seconds * 1000);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { refresh(); }
  });
}());
