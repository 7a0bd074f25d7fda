// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Ask before destructive buttons (the server still refuses what the rules forbid).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    // The ballot's one submit: a second tap would only find the card used.
    var form = event.target;
    if (form.hasAttribute("data-single-submit")) {
      if (form.getAttribute("data-sent")) {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sent", "1");
      var label = button && button.getAttribute("data-busy-label");
      if (label) {
        button.textContent = label;
      }
      window.setTimeout(function () {
        form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      }, 0);
    }
  });

  // Ranking: a nominee already given a place is greyed out in the other places' lists.
  document.querySelectorAll(".places").forEach(function (list) {
    var selects = Array.prototype.slice.call(list.querySelectorAll("select"));
    var sync = function () {
      var taken = selects.map(function (s) { return s.value; });
      selects.forEach(function (select) {
        Array.prototype.forEach.call(select.options, function (option) {
          if (!option.value || option.hasAttribute("data-recused")) {
            return;
          }
          option.disabled = option.value !== select.value && taken.indexOf(option.value) !== -1;
        });
      });
    };
    selects.forEach(function (s) { s.addEventListener("change", sync); });
    sync();
  });

  // In the category form, show only the settings of the chosen voting method.
  var form = document.querySelector("[data-method-form]");
  if (form) {
    var select = form.querySelector("select[name=method]");
    var sync = function () {
      form.querySelectorAll("[data-for-method]").forEach(function (block) {
        var methods = block.getAttribute("data-for-method").split(" ");
        block.hidden = methods.indexOf(select.value) === -1;
      });
    };
    select.addEventListener("change", sync);
    sync();
  }
})();
