// Small progressive enhancements; every screen works without this file.
(function () {
  "use strict";
  // A form sent twice (a double tap on a tablet) would answer the next question too:
  // disable its buttons once it is on its way.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    var pressed = event.submitter;
    window.setTimeout(function () {
      form.querySelectorAll("button").forEach(function (b) { if (b !== pressed) { b.disabled = true; } });
    }, 0);
  });
  // "None of these" and the other boxes exclude each other.
  document.querySelectorAll(".choices").forEach(function (group) {
    var none = group.querySelector("input[type=checkbox][value=none]");
    if (!none) { return; }
    group.addEventListener("change", function (event) {
      var box = event.target;
      if (!box.checked) { return; }
      group.querySelectorAll("input[type=checkbox]").forEach(function (other) {
        if ((box === none) !== (other === none)) { other.checked = false; }
      });
    });
  });
  // "Why is this asked?" opens below the buttons: bring its answer into view.
  document.querySelectorAll("details.why").forEach(function (box) {
    box.addEventListener("toggle", function () {
      if (box.open) { box.scrollIntoView({block: "nearest"}); }
    });
  });
}());
