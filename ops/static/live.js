// Keeps the wallboard, alerts and the agent's call card fresh by polling the JSON API.
// Every page works without it; this only saves pressing reload.
(function () {
  "use strict";

  // A form being sent (start listening, switch mode, a wrap-up) changes what the poll sees
  // before its answer comes back; a reload then would cancel that answer and the words it
  // brings. So polls stand still from a submit until the next page, or for a while if the
  // page stays (a download).
  var sentAt = 0;
  var SENDING_MS = 15000;
  document.addEventListener("submit", function (event) {
    if (!event.defaultPrevented) { sentAt = Date.now(); }
  });
  // Back to this page from the browser's cache: the form was sent long ago.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { sentAt = 0; }
  });

  function poll(url, every, handle) {
    function tick() {
      if (Date.now() - sentAt < SENDING_MS) { setTimeout(tick, every); return; }
      var target = typeof url === "function" ? url() : url;
      fetch(target, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (data && Date.now() - sentAt >= SENDING_MS) { handle(data); }
        })
        .catch(function () { /* the next tick tries again */ })
        .finally(function () { setTimeout(tick, every); });
    }
    setTimeout(tick, every);
  }

  function set(root, selector, value) {
    var el = root.querySelector(selector);
    if (el) { el.textContent = value; }
  }

  var board = document.querySelector("[data-live]");
  if (board) {
    poll(board.dataset.live, Number(board.dataset.every || 5000), function (data) {
      set(board, '[data-field="waiting"]', data.waiting);
      set(board, '[data-field="longest_wait_s"]', data.longest_wait_s);
      var rate = data.today.answer_rate;
      set(board, '[data-field="answer_rate"]', rate === null ? "–" : Math.round(rate * 100) + "%");
      var satisfied = data.today.satisfaction;
      set(board, '[data-field="satisfaction"]',
        satisfied === null ? "–" : Math.round(satisfied * 100) + "%");
      var rated = board.querySelector('[data-field="rated"]');
      if (rated) { rated.textContent = rated.dataset.template.replace("{n}", data.today.rated); }
      set(board, '[data-field="followups_open"]', data.followups_open);
      set(board, '[data-field="at"]', new Date(data.at * 1000).toLocaleTimeString());
      data.areas.forEach(function (area) {
        var row = board.querySelector('[data-area="' + area.id + '"]');
        if (row) {
          set(row, '[data-k="waiting"]', area.waiting);
          set(row, '[data-k="longest_wait_s"]', area.longest_wait_s);
        }
      });
      Object.keys(data.agents).forEach(function (state) {
        set(board, '[data-state="' + state + '"]', data.agents[state]);
      });
      showConditions(board.querySelector("#conditions"), data.conditions || []);
      showNotices(board.querySelector("#notices"), data.notices || []);
    });
  }

  // Quiet notices about live calls: redrawn whole, shown while any; nothing sounds.
  function showNotices(section, notices) {
    if (!section) { return; }
    var list = section.querySelector('[data-field="notices"]');
    list.textContent = "";
    notices.forEach(function (notice) {
      var li = document.createElement("li");
      li.dataset.notice = notice.kind;
      li.dataset.call = notice.call_sid;
      var label = document.createElement("strong");
      label.textContent = (notice.label && notice.label[section.dataset.lang]) || notice.kind;
      var who = document.createElement("span");
      who.textContent = [notice.agent, notice.area].filter(Boolean).join(" ");
      var since = document.createElement("small");
      since.textContent = section.dataset.since + " " +
        new Date(notice.since * 1000).toLocaleTimeString();
      li.append(label, " ", who, " ", since);
      list.appendChild(li);
    });
    section.hidden = notices.length === 0;
  }

  // Promises the hotline cannot keep right now: the list is redrawn whole, shown while any.
  function showConditions(section, conditions) {
    if (!section) { return; }
    var list = section.querySelector('[data-field="conditions"]');
    list.textContent = "";
    conditions.forEach(function (condition) {
      var li = document.createElement("li");
      li.dataset.condition = condition.name;
      var label = document.createElement("strong");
      label.textContent = (condition.label && condition.label[section.dataset.lang]) || condition.name;
      var detail = document.createElement("span");
      detail.textContent = condition.detail;
      var since = document.createElement("small");
      since.textContent = section.dataset.since + " " +
        new Date(condition.since * 1000).toLocaleString();
      li.append(label, " ", detail, " ", since);
      list.appendChild(li);
    });
    section.hidden = conditions.length === 0;
  }

  var alerts = document.querySelector("[data-live-alerts]");
  if (alerts) {
    poll(function () {
      return alerts.dataset.liveAlerts + "?after=" + encodeURIComponent(alerts.dataset.last || "0-0");
    }, Number(alerts.dataset.every || 3000), function (data) {
        data.alerts.forEach(function (alert) {
          var li = document.createElement("li");
          li.className = "alert new " + alert.kind;
          var parts = [alert.kind, alert.agent, alert.area, alert.flag, alert.trigger, alert.limit, alert.subject];
          li.textContent = new Date(Number(alert.at) * 1000).toLocaleTimeString() + " " +
            parts.filter(Boolean).join(" · ");
          alerts.insertBefore(li, alerts.firstChild);
        });
        if (data.last_id) { alerts.dataset.last = data.last_id; }
    });
  }

  var live = document.querySelector("[data-live-calls]");
  if (live) {
    // Calls in progress and listen-in are drawn by the server: reload when anything shown
    // changes (a call starts or ends, a supervisor's phone answers, a mode is switched).
    poll(live.dataset.liveCalls, Number(live.dataset.every || 3000), function (data) {
      if (data.signature !== live.dataset.signature) { window.location.reload(); }
    });
  }

  var call = document.querySelector("[data-live-call]");
  if (call) {
    // The card is drawn by the server: reload when a new call rings or its state moves on,
    // or a supervisor joins, switches mode or leaves (when agents are told of listen-in).
    poll(call.dataset.liveCall, Number(call.dataset.every || 2000), function (data) {
      var rid = data.call ? data.call.reservation : "";
      var state = data.call ? data.call.state : "";
      var supervisor = (data.call && data.call.supervisor) || "";
      // A transfer moving on (taken, back with the agent, left waiting) is told on the card.
      var transfer = (data.call && data.call.transfer && data.call.transfer.state) || "";
      if (rid !== call.dataset.reservation || state !== call.dataset.state ||
          supervisor !== (call.dataset.supervisor || "") ||
          transfer !== (call.dataset.transfer || "")) {
        window.location.reload();
      }
    });
  }
})();
