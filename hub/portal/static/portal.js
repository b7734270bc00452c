// Little JavaScript, and nothing depends on it: the issue and payment forms show
// their totals as you type; without it the next page (the summary) shows them.
(function () {
  "use strict";

  function pln(grosze) {
    var sign = grosze < 0 ? "-" : "";
    grosze = Math.abs(grosze);
    var whole = String(Math.floor(grosze / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, "\u00a0");
    var part = String(grosze % 100).padStart(2, "0");
    return sign + whole + "," + part + "\u00a0zł";
  }

  function count(input) {
    var n = parseInt(input.value, 10);
    return isNaN(n) || n < 0 ? 0 : n;
  }

  function issueForm(form) {
    var amounts = JSON.parse(form.dataset.amounts || "{}");
    var available = parseInt(form.dataset.available, 10);
    var caseType = form.querySelector("[name=case_type]");
    var countInput = form.querySelector("[name=count]");
    var out = form.querySelector(".live-total");
    function update() {
      var total = (amounts[caseType.value] || 0) * count(countInput);
      out.hidden = false;
      out.textContent = "Razem do zablokowania: " + pln(total) +
        (total > available ? " (dostępne tylko " + pln(available) + ")" : "");
    }
    caseType.addEventListener("change", update);
    countInput.addEventListener("input", update);
    update();
  }

  function paymentForm(form) {
    var fees = { CARD: parseInt(form.dataset.cardFee, 10), CASH: parseInt(form.dataset.cashFee, 10) };
    function update() {
      var items = 0;
      form.querySelectorAll("input.qty").forEach(function (input) {
        items += count(input) * parseInt(input.dataset.amount, 10);
      });
      var method = form.querySelector("[name=method]:checked");
      var handling = method ? fees[method.value] : 0;
      form.querySelector("[data-total=items]").textContent = pln(items);
      form.querySelector("[data-total=handling]").textContent = pln(handling);
      form.querySelector("[data-total=total]").textContent = pln(items + handling);
    }
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var issue = document.getElementById("issue-form");
    if (issue) issueForm(issue);
    var payment = document.getElementById("payment-form");
    if (payment) paymentForm(payment);
  });
})();
