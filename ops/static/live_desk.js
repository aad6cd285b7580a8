// Live assist on the agent's desk: follows the call's feed (server-sent events from
// /api/v1/agents/<id>/call/live) and draws the caller's thermometer level, its curve over the
// last two minutes, the suggestion line, the transcript lines and, on a crisis hit, the crisis
// escalation; at wrap-up it offers the key facts said in an empty note. Nothing here is inline
// (the pages' Content-Security-Policy allows no inline script or style): colours are classes.
(function () {
  "use strict";

  // Seconds of the curve shown, and the curve's box (viewBox 0 0 120 40).
  var SPAN_S = 120;
  var HEIGHT = 40;

  function follow(panel) {
    var level = panel.querySelector('[data-k="level"]');
    var levelWord = panel.querySelector('[data-k="level-word"]');
    var thermo = panel.querySelector(".thermo");
    var curve = panel.querySelector('[data-k="curve"]');
    var suggestion = panel.querySelector('[data-k="suggestion"]');
    var lines = panel.querySelector('[data-k="lines"]');
    var crisis = panel.querySelector("#crisis-escalate");
    var readings = [];  // {t, level}, the last SPAN_S seconds of audio
    var shown = {};  // event ids drawn, so a replay after a reconnect draws nothing twice

    function once(event) {
      if (!event.lastEventId || shown[event.lastEventId]) { return false; }
      shown[event.lastEventId] = true;
      return true;
    }

    function data(event) {
      try { return JSON.parse(event.data); } catch (error) { return null; }
    }

    function drawLevel(reading) {
      var n = Math.min(5, Math.max(1, Math.round(Number(reading.level) || 1)));
      level.textContent = String(n);
      levelWord.textContent = panel.getAttribute("data-word-" + n) || "";
      thermo.dataset.level = String(n);
      if (reading.suggestion) {
        suggestion.textContent = reading.suggestion;
        suggestion.hidden = false;
      }
      var t = typeof reading.t === "number" ? reading.t :
        (readings.length ? readings[readings.length - 1].t + 2 : 0);
      readings.push({ t: t, level: n });
      var since = t - SPAN_S;
      while (readings.length && readings[0].t < since) { readings.shift(); }
      drawCurve(since);
    }

    function drawCurve(since) {
      // Level 5 at the top, 1 at the bottom; x is seconds into the last two minutes.
      var points = readings.map(function (r) {
        var y = HEIGHT - 4 - (r.level - 1) * ((HEIGHT - 8) / 4);
        return (r.t - since).toFixed(1) + "," + y.toFixed(1);
      });
      curve.setAttribute("points", points.join(" "));
      panel.dataset.points = String(points.length);
    }

    function drawLine(line) {
      var li = document.createElement("li");
      var track = line.track === "agent" ? "agent" : "caller";
      li.className = track;
      var who = document.createElement("strong");
      who.textContent = panel.dataset[track] || track;
      var words = document.createElement("span");
      words.textContent = line.text || "";
      li.append(who, " ", words);
      lines.appendChild(li);
      lines.scrollTop = lines.scrollHeight;
    }

    function drawCrisis(hit) {
      if (!crisis) { return; }
      crisis.querySelector('[data-k="crisis-text"]').textContent = hit.text || "";
      crisis.hidden = false;
      panel.classList.add("crisis");
      crisis.querySelector("button").focus();
    }

    var feed = new EventSource(panel.dataset.feed);
    feed.addEventListener("level", function (event) {
      var reading = data(event);
      if (reading && once(event)) { drawLevel(reading); }
    });
    feed.addEventListener("line", function (event) {
      var line = data(event);
      if (line && once(event)) { drawLine(line); }
    });
    feed.addEventListener("crisis", function (event) {
      var hit = data(event);
      if (hit && once(event)) { drawCrisis(hit); }
    });
    feed.addEventListener("ended", function (event) {
      if (once(event)) { panel.dataset.ended = "1"; }
    });
    // The call is over: the desk's own poll redraws the card for wrap-up.
    feed.addEventListener("close", function () {
      feed.close();
      panel.dataset.state = "closed";
    });
    feed.addEventListener("open", function () { panel.dataset.state = "open"; });
  }

  // At wrap-up: the key facts said, put in the note while it is still empty.
  function offerFacts(marker) {
    var note = document.querySelector('#call form textarea[name="note"]');
    if (!note || note.value.trim()) { return; }
    fetch(marker.dataset.facts, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) {
        if (!answer || !answer.block || note.value.trim()) { return; }
        note.value = answer.block;
        note.dataset.prefilled = "facts";
        var told = document.createElement("p");
        told.className = "facts-told";
        told.textContent = marker.dataset.told;
        note.insertAdjacentElement("afterend", told);
      })
      .catch(function () { /* the note stays empty: the agent writes it */ });
  }

  var panel = document.getElementById("live-assist");
  if (panel && window.EventSource) { follow(panel); }
  var marker = document.getElementById("call-facts");
  if (marker) { offerFacts(marker); }
})();
