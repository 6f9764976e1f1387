// Survey pages: after a failed send, move the focus to the error summary, so that a keyboard or
// screen-reader user starts from what went wrong.
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
}());

// Show or hide a question whose show_if depends on an answer on the same page.
// Without this script every question on the page is shown and the server applies show_if.
(function () {
  "use strict";
  var form = document.querySelector("form.survey-page");
  if (!form) { return; }
  var conditional = form.querySelectorAll("[data-show-if]");
  if (!conditional.length) { return; }

  function answers(name) {
    var values = [];
    form.querySelectorAll("[name='" + name + "']").forEach(function (input) {
      if ((input.type === "radio" || input.type === "checkbox") && !input.checked) { return; }
      if (input.value !== "") { values.push(input.value); }
    });
    return values;
  }

  function met(condition) {
    var given = answers(condition.question);
    if (Object.prototype.hasOwnProperty.call(condition, "answered")) {
      return (given.length > 0) === condition.answered;
    }
    var wanted = condition.any_of || [condition.equals];
    return wanted.some(function (value) { return given.indexOf(String(value)) !== -1; });
  }

  function update() {
    conditional.forEach(function (element) {
      element.classList.toggle("hidden", !met(JSON.parse(element.getAttribute("data-show-if"))));
    });
  }

  form.addEventListener("change", update);
  update();
}());
