// The demo phone: places an interactive call through the app (which forwards to the local
// carrier), polls the call's transcript, shows and speaks what the caller hears, and sends
// keys and typed words. Plain JavaScript, no build step, nothing loaded from elsewhere.
"use strict";

(function () {
  const base = "phone/calls";
  const logBox = document.getElementById("log");
  const statusBox = document.getElementById("status");
  const callButton = document.getElementById("call");
  const hangupButton = document.getElementById("hangup");
  const voiceBox = document.getElementById("voice");
  let callSid = null;
  let shown = 0;
  let timer = null;

  // Twilio's say languages to the browser's speech synthesis languages.
  const VOICES = { "cmn-CN": "zh-CN", "zh-CN": "zh-CN", "en-US": "en-US", "en-GB": "en-GB" };

  function line(text, kind) {
    const row = document.createElement("div");
    row.className = kind;
    row.textContent = text;
    logBox.appendChild(row);
    logBox.scrollTop = logBox.scrollHeight;
  }

  function speak(text, language) {
    if (!voiceBox.checked || !("speechSynthesis" in window)) return;
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = VOICES[language] || language || "zh-CN";
    window.speechSynthesis.speak(utterance);
  }

  async function send(method, path, body) {
    const options = { method: method, headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const reply = await fetch(path, options);
    const data = await reply.json().catch(function () { return {}; });
    if (!reply.ok) throw new Error(data.error || reply.statusText);
    return data;
  }

  function setInCall(inCall) {
    callButton.disabled = inCall;
    hangupButton.disabled = !inCall;
  }

  function show(entry) {
    if (entry.kind === "heard") {
      line("" + entry.text, "heard");
      speak(entry.text, entry.language);
    } else if (entry.kind === "pressed") {
      line("" + entry.keys, "you");
    } else if (entry.kind === "said") {
      line("🗣 " + entry.text, "you");
    } else if (entry.kind === "played") {
      line("♪ " + (entry.name || "hold music"), "info");
    } else if (entry.kind === "bridged") {
      line("☎ connected / 已接通 " + (entry.name || ""), "info");
    } else if (entry.kind === "silent") {
      line("… (silence / 无输入)", "info");
    } else if (entry.kind === "error") {
      line("⚠ " + (entry.message || "error"), "info");
    }
  }

  async function poll() {
    if (!callSid) return;
    try {
      const call = await send("GET", base + "/" + callSid);
      call.entries.slice(shown).forEach(show);
      shown = call.entries.length;
      statusBox.textContent = call.finished
        ? "通话已结束 / Call ended" + (call.summary ? ": " + call.summary : "")
        : "通话中 / In call (" + call.status + ")";
      if (call.finished) {
        finish();
        return;
      }
    } catch (error) {
      statusBox.textContent = "⚠ " + error.message;
    }
    timer = window.setTimeout(poll, 500);
  }

  function finish() {
    callSid = null;
    setInCall(false);
    if (timer) window.clearTimeout(timer);
  }

  callButton.addEventListener("click", async function () {
    logBox.textContent = "";
    shown = 0;
    statusBox.textContent = "正在拨号 / Dialling…";
    try {
      const placed = await send("POST", base, {});
      callSid = placed.call_sid;
      setInCall(true);
      poll();
    } catch (error) {
      statusBox.textContent = "⚠ " + error.message;
    }
  });

  hangupButton.addEventListener("click", async function () {
    if (!callSid) return;
    if ("speechSynthesis" in window) window.speechSynthesis.cancel();
    await send("POST", base + "/" + callSid + "/hangup", {}).catch(function () {});
  });

  document.getElementById("keypad").addEventListener("click", async function (event) {
    const key = event.target.closest("button");
    if (!key || !callSid) return;
    await send("POST", base + "/" + callSid + "/input", { digits: key.textContent.trim() })
      .catch(function (error) { statusBox.textContent = "⚠ " + error.message; });
  });

  document.getElementById("say").addEventListener("submit", async function (event) {
    event.preventDefault();
    const box = document.getElementById("speech");
    const words = box.value.trim();
    if (!words || !callSid) return;
    box.value = "";
    await send("POST", base + "/" + callSid + "/input", { speech: words })
      .catch(function (error) { statusBox.textContent = "⚠ " + error.message; });
  });
})();
