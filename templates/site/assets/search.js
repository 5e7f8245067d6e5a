// Search with MiniSearch (vendored, MIT) over an index prebuilt by mlprep and loaded as a script, so it
// works from file:// too. Results are topics, their sections and single interview questions; prefix
// matching as you type, one typo forgiven in longer words, titles weighted above text (BM25+ scoring).
(function () {
  "use strict";
  var input = document.getElementById("search-input");
  var list = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  var OPTIONS = { fields: ["title", "text"], storeFields: ["title", "url", "kind", "where", "snippet"] };
  var SEARCH = {
    prefix: function (term, i, terms) { return i === terms.length - 1; },  // the word being typed
    fuzzy: function (term) { return term.length > 4 ? 1 : 0; },            // one typo in longer words
    boost: { title: 3 },
    combineWith: "AND",
    boostDocument: function (id, term, stored) { return stored && stored.kind === "topic" ? 1.3 : 1; }
  };
  var engine = MiniSearch.loadJS(window.MLPREP_SEARCH, OPTIONS);
  window.mlprepSearch = function (q) { return engine.search(q, SEARCH); };  // for tests and the console
  var KIND = { topic: "Topic", section: "Section", question: "Question" };

  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]; }); }
  function mark(text, terms) {
    var html = esc(text);
    terms.forEach(function (t) {
      if (t.length < 2) return;
      html = html.replace(new RegExp("(" + t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + ")", "ig"), "<mark>$1</mark>");
    });
    return html;
  }

  function show(q) {
    list.innerHTML = "";
    q = q.trim();
    if (!q) { status.textContent = engine.documentCount + " topics, sections and questions indexed. Type to search."; return; }
    var hits = engine.search(q, SEARCH);
    status.textContent = hits.length ? hits.length + " result" + (hits.length > 1 ? "s" : "") + " for “" + q + "”" : "Nothing matches “" + q + "”.";
    hits.slice(0, 50).forEach(function (h) {
      var li = document.createElement("li");
      li.className = "result " + h.kind;
      li.innerHTML = '<span class="badge kind">' + KIND[h.kind] + '</span> <a href="' + esc(h.url) + '">' + mark(h.title, h.terms) +
        '</a> <span class="where">' + esc(h.where) + "</span>" + (h.snippet ? "<p>" + mark(h.snippet, h.terms) + "</p>" : "");
      list.appendChild(li);
    });
  }

  var q = new URLSearchParams(location.search).get("q") || "";
  input.value = q;
  var top = document.getElementById("q"); if (top) top.value = q;
  show(q);
  input.addEventListener("input", function () { show(input.value); });
})();
