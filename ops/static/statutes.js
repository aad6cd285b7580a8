// The desk's statutes panel: searches the knowledge base by the caller's words as the agent
// types, without leaving the call card. The form still works without it (it opens the
// statutes page with the same search).
(function () {
  "use strict";

  var panel = document.getElementById("statutes-panel");
  if (!panel) { return; }
  var form = panel.querySelector("[data-statute-search]");
  var results = panel.querySelector("[data-statute-results]");
  var lang = panel.dataset.lang === "en" ? "en" : "zh";
  var timer = null;
  var asked = 0;

  function item(statute) {
    var li = document.createElement("li");
    li.dataset.statute = statute.id;
    var citation = document.createElement("strong");
    citation.dataset.k = "citation";
    citation.textContent = statute.law[lang] + " " + statute.article[lang];
    var plain = document.createElement("span");
    plain.dataset.k = "plain";
    plain.textContent = statute.plain[lang];
    var link = document.createElement("a");
    link.href = statute.url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = panel.dataset.link;
    li.append(citation, " ", plain, " ", link);
    return li;
  }

  function show(statutes) {
    results.textContent = "";
    if (statutes.length === 0) {
      var none = document.createElement("li");
      none.className = "empty";
      none.textContent = panel.dataset.empty;
      results.appendChild(none);
    }
    statutes.forEach(function (statute) { results.appendChild(item(statute)); });
    results.hidden = false;
  }

  function search() {
    var words = form.elements.q.value.trim();
    if (!words) { results.hidden = true; results.textContent = ""; return; }
    // Only the latest question's answer is drawn: typing fast sends several.
    var mine = ++asked;
    fetch(panel.dataset.search + "?q=" + encodeURIComponent(words), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && mine === asked) { show(data.statutes); } })
      .catch(function () { /* the form still opens the statutes page */ });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    search();
  });
  form.elements.q.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 250);
  });
})();
