// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Ask before destructive buttons (the server still refuses what the rules forbid).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
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
