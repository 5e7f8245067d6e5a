// Progressive enhancements; every page works without them.
(function () {
  "use strict";
  // Interview checklist: ticks persist in localStorage (per browser, never sent anywhere).
  var KEY = "mlprep-checklist";
  var store = {};
  try { store = JSON.parse(localStorage.getItem(KEY) || "{}"); } catch (e) { store = {}; }
  document.querySelectorAll(".checklist input[type=checkbox]").forEach(function (box) {
    box.checked = !!store[box.dataset.key];
    box.addEventListener("change", function () {
      store[box.dataset.key] = box.checked;
      try { localStorage.setItem(KEY, JSON.stringify(store)); } catch (e) { /* storage disabled */ }
    });
  });
  // "Reveal all answers" toggles every answer on a topic page.
  document.querySelectorAll(".reveal-all").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var open = btn.getAttribute("aria-pressed") !== "true";
      document.querySelectorAll(".question details").forEach(function (d) { d.open = open; });
      btn.setAttribute("aria-pressed", String(open));
      btn.textContent = open ? "Hide all answers" : "Reveal all answers";
    });
  });
  // Printing shows every answer.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.dataset.wasOpen = d.open; d.open = true; });
  });
  window.addEventListener("afterprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = d.dataset.wasOpen === "true"; });
  });
  // A link to a question opens its answer.
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (el && el.classList.contains("question")) { var d = el.querySelector("details"); if (d) d.open = true; }
  }
  window.addEventListener("hashchange", openTarget); openTarget();
})();
