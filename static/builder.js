// The survey builder works with plain forms; this makes it quicker to use:
// - a new question's form shows only the settings of the kind chosen;
// - "Show only when…" lists only the answers of the question chosen;
// - a new answer's stored value is suggested as its label is typed;
// - each step is sent in the background and only the builder is redrawn, so the page keeps
//   its place instead of reloading.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function valueFromLabel(label) {
    var words = label.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().match(/[a-z0-9]+/g) || [];
    var value = "";
    for (var i = 0; i < words.length; i++) {
      var longer = value ? value + "_" + words[i] : words[i];
      if (longer.length > 40) break;
      value = longer;
    }
    return value === "other" ? "other_answer" : value;
  }

  function showKinds(form) {
    var select = form.querySelector("[data-question-type]");
    if (!select) return;
    form.querySelectorAll(".kind-group").forEach(function (group) {
      group.hidden = group.dataset.kinds.split(" ").indexOf(select.value) === -1;
    });
  }

  function showConditionAnswers(form) {
    var select = form.querySelector("[data-condition-source]");
    if (!select) return;
    form.querySelectorAll(".condition-answers").forEach(function (group) {
      var shown = group.dataset.conditionFor === select.value;
      group.hidden = !shown;
      if (!shown) group.querySelectorAll("input[type=checkbox]").forEach(function (box) { box.checked = false; });
    });
  }

  function enhance(root) {
    root.querySelectorAll("form[data-question-form]").forEach(function (form) {
      showKinds(form);
      var select = form.querySelector("[data-question-type]");
      if (select) select.addEventListener("change", function () { showKinds(form); });
    });
    root.querySelectorAll("form.builder-condition").forEach(function (form) {
      showConditionAnswers(form);
      form.querySelector("[data-condition-source]").addEventListener("change", function () { showConditionAnswers(form); });
    });
    root.querySelectorAll("[data-makes-value]").forEach(function (input) {
      var target = document.getElementById(input.dataset.makesValue);
      input.addEventListener("input", function () { target.placeholder = valueFromLabel(input.value); });
    });
  }

  // Redraw the parts of the page a step changes from the page the server answers with.
  var PARTS = ["#builder", ".builder-preview", ".builder-save", ".flashes", "h1"];

  function swap(html, url) {
    var next = new DOMParser().parseFromString(html, "text/html");
    if (!next.getElementById("builder")) {
      // Not a builder page (an error page, say): show it whole, as a plain form would have.
      document.title = next.title;
      document.body.replaceWith(document.adoptNode(next.body));
      history.replaceState(null, "", url);
      return;
    }
    var focused = document.activeElement && document.activeElement.id;
    PARTS.forEach(function (selector) {
      var old = document.querySelector(selector);
      var fresh = next.querySelector(selector);
      if (old && fresh) old.replaceWith(fresh);
      else if (old) old.remove();
      else if (fresh && selector === ".flashes") document.getElementById("main").prepend(fresh);
    });
    document.title = next.title;
    history.replaceState(null, "", url);
    enhance(document);
    var target = document.getElementById("refused") || document.querySelector(".error-summary") ||
      (focused && document.getElementById(focused)) || (url.indexOf("#") !== -1 && document.getElementById(url.split("#")[1]));
    if (target) {
      if (!target.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) target.setAttribute("tabindex", "-1");
      target.focus();
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.method.toLowerCase() !== "post" || !document.getElementById("builder") || !form.closest("#builder, .builder-save")) return;
    event.preventDefault();
    var body = new FormData(form, event.submitter);
    var anchor = body.get("anchor");
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) {
        return response.text().then(function (html) {
          swap(html, response.url + (anchor && response.url.indexOf("#") === -1 ? "#" + anchor : ""));
        });
      })
      .catch(function () { form.submit(); });
  });

  enhance(document);
})();
