// The gala screen follows the presenter: it polls a version and, when it changed, swaps in
// the stage the server renders for the new step. Nothing is decided here: what a screen may
// show (a winner only from its step on) is all on the server.
(function () {
  "use strict";

  var body = document.body;
  var stateUrl = body.getAttribute("data-state-url");
  var stageUrl = body.getAttribute("data-stage-url");
  var badge = document.getElementById("connection");
  var POLL_MS = 700;
  var TIMEOUT_MS = 4000;
  var failures = 0;
  var busy = false;
  var lastStage = Date.now();
  var clockOffset = 0;

  function stage() { return document.getElementById("stage"); }

  function get(url) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller && window.setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    return fetch(url, { cache: "no-store", credentials: "same-origin",
                        signal: controller ? controller.signal : undefined })
      .finally(function () { if (timer) { window.clearTimeout(timer); } });
  }

  function loadStage() {
    return get(stageUrl).then(function (response) {
      if (response.status === 403) { window.location.reload(); }
      if (!response.ok) { throw new Error("stage " + response.status); }
      return response.text();
    }).then(function (html) {
      var holder = document.createElement("template");
      holder.innerHTML = html.trim();
      var fresh = holder.content.querySelector("#stage");
      if (!fresh) { throw new Error("no stage"); }
      var current = stage();
      if (current.getAttribute("data-version") === fresh.getAttribute("data-version")) {
        fresh.classList.add("stage--same");  // a turnout refresh: no entrance again
      }
      current.replaceWith(fresh);
      lastStage = Date.now();
      startClock();
    });
  }

  function connected() {
    failures = 0;
    if (badge) { badge.hidden = true; }
  }

  function dropped() {
    failures += 1;
    if (badge && failures >= 2) { badge.hidden = false; }
  }

  function poll() {
    if (busy) { return; }
    busy = true;
    var current = stage();
    var refresh = Number(current.getAttribute("data-refresh") || 0);
    var url = stateUrl + "&v=" + encodeURIComponent(current.getAttribute("data-version"));
    get(url).then(function (response) {
      if (response.status === 403) { window.location.reload(); }
      if (response.status === 200) { return loadStage(); }
      if (response.status !== 204) { throw new Error("state " + response.status); }
      if (refresh && Date.now() - lastStage >= refresh) { return loadStage(); }
      return null;
    }).then(connected, dropped).then(function () { busy = false; });
  }

  // The time left, counted by the screen from the closing time the server gave, corrected
  // by the difference between the screen's clock and the server's.
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function tick() {
    var node = document.querySelector("[data-closes-at]");
    if (!node) { return; }
    var left = Math.max(0, Date.parse(node.getAttribute("data-closes-at")) -
                           (Date.now() + clockOffset));
    var seconds = Math.floor(left / 1000);
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    node.textContent = (h ? h + ":" + pad(m) : String(m)) + ":" + pad(seconds % 60);
  }

  function startClock() {
    var node = document.querySelector("[data-closes-at]");
    if (node && node.getAttribute("data-now")) {
      clockOffset = Date.parse(node.getAttribute("data-now")) - Date.now();
    }
    tick();
  }

  startClock();
  window.setInterval(tick, 1000);
  window.setInterval(poll, POLL_MS);
}());
