// Progressive enhancements; every page works without them.
(function () {
  "use strict";
  // Contents drawer on small screens.
  var toggle = document.querySelector(".nav-toggle"), sidebar = document.getElementById("sidebar");
  if (toggle && sidebar) {
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      document.body.classList.toggle("nav-open", open);
      if (open) { var here = sidebar.querySelector("[aria-current]"); (here || sidebar.querySelector("a")).focus(); }
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && document.body.classList.contains("nav-open")) { toggle.click(); toggle.focus(); }
    });
    var current = sidebar.querySelector("[aria-current]");
    if (current && current.scrollIntoView && window.matchMedia("(min-width: 64rem)").matches) current.scrollIntoView({ block: "center" });
  }
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
  // "Reveal all" / "Hide all" answers on a topic page, for self-testing a whole topic.
  document.querySelectorAll(".reveal-all").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var open = btn.dataset.open === "true";
      document.querySelectorAll(".question details").forEach(function (d) { d.open = open; });
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
