(function () {
  "use strict";
  var trials = Array.prototype.slice.call(document.querySelectorAll("#trials > details.trial"));
  var outcome = document.getElementById("filter-outcome");
  var category = document.getElementById("filter-category");
  var counter = document.getElementById("shown-count");

  function apply() {
    var shown = 0;
    trials.forEach(function (el) {
      var ok = (outcome.value === "all" || el.getAttribute("data-outcome") === outcome.value) &&
               (category.value === "all" || el.getAttribute("data-category") === category.value);
      el.hidden = !ok;
      if (ok) { shown += 1; }
    });
    counter.textContent = shown + " of " + trials.length + " trials shown";
    document.body.setAttribute("data-shown", String(shown));
  }

  function setOpen(open) {
    trials.forEach(function (el) { if (!el.hidden) { el.open = open; } });
  }

  outcome.addEventListener("change", apply);
  category.addEventListener("change", apply);
  document.getElementById("expand-all").addEventListener("click", function () { setOpen(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { setOpen(false); });

  // Fragment: #outcome=fail&category=5 pre-selects the filters, &expand=1 opens the trials
  // shown (e.g. to print them); #trial-… opens that trial.
  var hash = location.hash.replace(/^#/, "");
  var expand = false;
  hash.split("&").forEach(function (part) {
    var eq = part.indexOf("=");
    if (eq < 0) { return; }
    var key = decodeURIComponent(part.slice(0, eq)), val = decodeURIComponent(part.slice(eq + 1));
    if (key === "outcome") { outcome.value = val; }
    if (key === "category") { category.value = val; }
    if (key === "expand") { expand = val === "1"; }
  });
  apply();
  if (expand) { setOpen(true); }
  var target = hash && hash.indexOf("=") < 0 ? document.getElementById(hash) : null;
  if (target && target.tagName === "DETAILS") { target.open = true; }
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href^='#trial-']") : null;
    if (!link) { return; }
    var el = document.getElementById(link.getAttribute("href").slice(1));
    if (el) { el.hidden = false; el.open = true; }
  });
  document.body.setAttribute("data-ready", "1");
})();
