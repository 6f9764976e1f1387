/* The card form: Stripe.js (or localstripe's stand-in) collects the card in its Card Element and
   confirms a SetupIntent; then the form posts back so the server can charge it. Keys and client
   secrets come from data- attributes: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";
  var form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(form.dataset.publishableKey);
  var errors = document.getElementById("card-errors");

  function showError(message) {
    if (!errors) { return; }
    errors.textContent = "";
    var item = document.createElement("li");
    item.textContent = message || "Your card could not be used. Please check it and try again.";
    errors.appendChild(item);
    errors.parentElement.classList.add("has-error");
  }

  // The bank asked the donor to authenticate a payment the server already tried. Whatever the
  // bank answers, the server asks Stripe how it ended: a success goes to the thank-you page, a
  // failure back to the card form with the reason and a fresh SetupIntent to try again.
  if (form.dataset.paymentSecret) {
    stripe.confirmCardPayment(form.dataset.paymentSecret).then(function (result) {
      var intent = result && result.paymentIntent;
      if (intent && (intent.status === "succeeded" || intent.status === "processing")) {
        window.location.assign(form.dataset.nextUrl);
        return;
      }
      showError((result && result.error && result.error.message) ||
                "Your bank did not confirm this payment. Taking you back to the card form…");
      window.location.assign(form.dataset.checkUrl);
    });
    return;
  }

  var card = stripe.elements().create("card", { hidePostalCode: true });
  card.mount("#card-element");
  var button = document.getElementById("pay-button");
  var busy = false;

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) { return; }
    busy = true;
    button.disabled = true;
    // No billing details: Stripe would copy a name or email from the card into every charge made
    // with it, and a charge can never be changed (see the README's privacy section).
    stripe.confirmCardSetup(form.dataset.setupSecret, { payment_method: { card: card } }).then(function (result) {
      if (result.error) {
        showError(result.error.message);
        busy = false;
        button.disabled = false;
        return;
      }
      form.elements.setup_intent.value = result.setupIntent.id;
      form.submit();
    });
  });
})();
