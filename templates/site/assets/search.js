// Client-side full-text search over window.MLPREP_INDEX (loaded as a script so it works from file://).
(function () {
  "use strict";
  var input = document.getElementById("search-input");
  var list = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  var docs = window.MLPREP_INDEX || [];

  function norm(s) { return s.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, ""); }
  function terms(q) { return norm(q).split(/[^a-z0-9+#.]+/).filter(function (t) { return t.length > 0; }); }
  var prepared = docs.map(function (d) {
    return { d: d, title: norm(d.title), summary: norm(d.summary), text: norm(d.text), tags: norm(d.tags.join(" ")) };
  });

  function count(hay, t) { var n = 0, i = hay.indexOf(t); while (i !== -1) { n++; i = hay.indexOf(t, i + t.length); } return n; }
  function escapeHtml(s) { return s.replace(/[&<>"']/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]; }); }
  function snippet(text, ts) {
    var low = norm(text), at = -1;
    for (var i = 0; i < ts.length && at < 0; i++) at = low.indexOf(ts[i]);
    var start = Math.max(0, at - 80), s = text.slice(start, start + 220);
    var html = escapeHtml((start > 0 ? "…" : "") + s + "…");
    ts.forEach(function (t) {
      if (t.length < 2) return;
      html = html.replace(new RegExp("(" + t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + ")", "ig"), "<mark>$1</mark>");
    });
    return html;
  }

  function search(q) {
    var ts = terms(q);
    list.innerHTML = "";
    if (!ts.length) { status.textContent = docs.length + " topics indexed. Type a word to search."; return; }
    var hits = [];
    prepared.forEach(function (p) {
      var score = 0;
      for (var i = 0; i < ts.length; i++) {
        var t = ts[i];
        var s = 12 * count(p.title, t) + 6 * count(p.tags, t) + 4 * count(p.summary, t) + count(p.text, t);
        if (!s) return;  // every term must appear
        score += s;
      }
      hits.push({ p: p, score: score });
    });
    hits.sort(function (a, b) { return b.score - a.score || a.p.title.localeCompare(b.p.title); });
    status.textContent = hits.length ? hits.length + " result" + (hits.length > 1 ? "s" : "") + " for “" + q + "”" : "No topic matches “" + q + "”.";
    hits.slice(0, 50).forEach(function (h) {
      var d = h.p.d, li = document.createElement("li");
      li.innerHTML = '<a href="' + d.url + '">' + escapeHtml(d.title) + "</a> <span class=\"count\">" +
        escapeHtml(d.section) + "</span><p>" + snippet(d.text, ts) + "</p>";
      list.appendChild(li);
    });
  }

  var q = new URLSearchParams(location.search).get("q") || "";
  input.value = q;
  var top = document.getElementById("q"); if (top) top.value = q;
  search(q);
  input.addEventListener("input", function () { search(input.value); });
})();
