// The card desk and the printable sheets; everything works without this file.
(function () {
  "use strict";

  // The print button only exists where printing from the page is possible.
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  // A fresh id for the issuing form: the server issues one batch per id, so the same form
  // sent twice (a double click, a reload) never issues twice.
  function newBatch(form) {
    var input = form.querySelector("input[name=batch]");
    if (!input || !window.crypto || !window.crypto.getRandomValues) { return; }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    input.value = Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function setButtons(form, disabled) {
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = disabled; });
  }

  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var form = event.target;
    // app.js asks before destructive buttons; a "no" there stops here too.
    if (event.defaultPrevented || !form.hasAttribute("data-once")) { return; }
    // After this tick, so that the clicked button's value is still sent.
    window.setTimeout(function () { setButtons(form, true); }, 0);
    if (button && button.value === "csv") {
      // A CSV answer is a download and the page stays: ready for the next batch.
      window.setTimeout(function () { newBatch(form); setButtons(form, false); }, 3000);
    }
  });

  // Back from the printable sheet: the form on screen is a new batch.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("form[data-once]").forEach(function (form) {
      newBatch(form);
      setButtons(form, false);
    });
  });
})();
