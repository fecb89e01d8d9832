/* The chat page: the agent over the websocket /ws/agent/chat/, authenticated by the login session.
 *
 * Sends {"type": "message", "message", "portfolio_id", "session_id"?, "mode"} and renders the events as
 * they arrive: "start" (the conversation id), "token" (text appended as written), "tool_call" and
 * "tool_result" (a collapsible block per call), "heartbeat" (still working), "error", "done". One
 * question at a time; the Send button is off while an answer streams. A dropped connection is
 * retried with backoff (0.5 s doubling to 8 s); close code 4401 means the session ended. */
(function () {
  "use strict";

  var root = document.getElementById("chat");
  if (!root) return;

  var els = {
    messages: document.getElementById("messages"),
    form: document.getElementById("composer"),
    input: document.getElementById("chat-input"),
    send: document.getElementById("chat-send"),
    mode: document.getElementById("chat-mode"),
    status: document.getElementById("chat-status"),
    busy: document.getElementById("chat-busy"),
    conversations: document.getElementById("conversations")
  };
  var CLOSE_UNAUTHORIZED = 4401;
  var PING_EVERY_MS = 25000;
  var state = {
    socket: null,
    sessionId: root.dataset.sessionId || null,
    answering: false,
    current: null,
    tools: {},
    retries: 0,
    reconnectTimer: null,
    pingTimer: null,
    signedOut: false
  };

  function isOpen() {
    return state.socket !== null && state.socket.readyState === WebSocket.OPEN;
  }

  function setStatus(kind, text) {
    els.status.dataset.state = kind;
    els.status.textContent = text;
  }

  function updateSend() {
    els.send.disabled = state.answering || !isOpen() || !els.input.value.trim();
  }

  function setBusy(busy, text) {
    state.answering = busy;
    els.busy.hidden = !busy;
    if (text) els.busy.textContent = text;
    root.dataset.busy = busy ? "true" : "false";
    updateSend();
  }

  function nearBottom() {
    var m = els.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
  }

  function scrollDown(force) {
    if (force || nearBottom()) els.messages.scrollTop = els.messages.scrollHeight;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function addMessage(role, text) {
    var empty = document.getElementById("chat-empty");
    if (empty) empty.remove();
    var article = element("article", "msg msg-" + role);
    article.appendChild(element("div", "msg-role", role === "user" ? "You" : "Agent"));
    if (role === "assistant") article.appendChild(element("div", "tools"));
    article.appendChild(element("div", "msg-text", text));
    els.messages.appendChild(article);
    scrollDown(true);
    return article;
  }

  function addNotice(text, kind) {
    var note = element("p", "chat-notice " + (kind || ""), text);
    els.messages.appendChild(note);
    scrollDown(true);
    return note;
  }

  function pretty(value) {
    if (typeof value === "string") {
      try { value = JSON.parse(value); } catch (e) { return value; }
    }
    var text = JSON.stringify(value, null, 2);
    return text && text.length > 4000 ? text.slice(0, 4000) + "\n…" : text;
  }

  function toolCall(event) {
    if (!state.current) return;
    var details = element("details", "tool running");
    details.dataset.toolId = event.id;
    var summary = element("summary");
    summary.appendChild(element("span", "tool-name", event.name));
    summary.appendChild(document.createTextNode(" "));
    summary.appendChild(element("span", "tool-state", "running…"));
    details.appendChild(summary);
    var body = element("div", "tool-body");
    body.appendChild(element("p", "small muted", "Arguments"));
    body.appendChild(element("pre", "", pretty(event.arguments || {})));
    details.appendChild(body);
    state.current.querySelector(".tools").appendChild(details);
    state.tools[event.id] = details;
    scrollDown(false);
  }

  function toolResult(event) {
    var details = state.tools[event.id];
    if (!details) return;
    details.classList.remove("running");
    details.classList.add("done");
    details.querySelector(".tool-state").textContent = "done";
    var body = details.querySelector(".tool-body");
    body.appendChild(element("p", "small muted", "Result"));
    body.appendChild(element("pre", "", pretty(event.result)));
  }

  function appendToken(text) {
    if (!state.current) state.current = addMessage("assistant", "");
    state.current.querySelector(".msg-text").appendChild(document.createTextNode(text));
    scrollDown(false);
  }

  function finishAnswer(errorText) {
    if (state.current) {
      state.current.classList.remove("streaming");
      if (errorText) state.current.appendChild(element("p", "msg-error", errorText));
    }
    state.current = null;
    state.tools = {};
    setBusy(false);
  }

  function rememberSession(sessionId) {
    if (!sessionId || sessionId === state.sessionId) return;
    var heading = root.querySelector(".chat-head h2");
    var first = els.messages.querySelector(".msg-user .msg-text");
    if (heading && !state.sessionId && first) heading.textContent = first.textContent.slice(0, 80);
    state.sessionId = sessionId;
    root.dataset.sessionId = sessionId;
    var url = new URL(window.location.href);
    url.searchParams.set("session", sessionId);
    window.history.replaceState(null, "", url.toString());
  }

  function refreshConversations() {
    if (!els.conversations || !window.htmx) return;
    var url = root.dataset.conversationsUrl + (state.sessionId ? "?session=" + encodeURIComponent(state.sessionId) : "");
    window.htmx.ajax("GET", url, { target: "#conversations", swap: "innerHTML" });
  }

  function handle(event) {
    switch (event.type) {
      case "start":
        rememberSession(event.session_id);
        break;
      case "token":
        appendToken(event.text || "");
        break;
      case "tool_call":
        toolCall(event);
        break;
      case "tool_result":
        toolResult(event);
        break;
      case "heartbeat":
        if (state.answering) setBusy(true, "Agent is still working…");
        break;
      case "error":
        if (event.code === "busy") {
          addNotice("The agent is still answering the previous question.", "warn");
        } else if (event.code === "throttled") {
          finishAnswer();
          addNotice("Too many questions: wait " + (event.retry_after_s || 60) + " s and ask again.", "warn");
        } else if (event.code === "not_authenticated") {
          state.signedOut = true;
        } else if (event.status) {
          // Refused before any answer started (bad input, unknown conversation or portfolio).
          finishAnswer(event.message || "The question was refused.");
        } else if (state.current) {
          state.current.appendChild(element("p", "msg-error", event.message || "The answer failed."));
        }
        break;
      case "done":
        rememberSession(event.session_id);
        finishAnswer();
        refreshConversations();
        root.dispatchEvent(new CustomEvent("chat:done", { bubbles: true, detail: { sessionId: event.session_id } }));
        break;
      default:
        break;
    }
  }

  function startPing() {
    stopPing();
    state.pingTimer = window.setInterval(function () {
      if (isOpen() && !state.answering) state.socket.send(JSON.stringify({ type: "ping" }));
    }, PING_EVERY_MS);
  }

  function stopPing() {
    if (state.pingTimer !== null) window.clearInterval(state.pingTimer);
    state.pingTimer = null;
  }

  function socketUrl() {
    return (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + root.dataset.wsPath;
  }

  function connect() {
    window.clearTimeout(state.reconnectTimer);
    setStatus("connecting", state.retries ? "Reconnecting…" : "Connecting…");
    var socket = new WebSocket(socketUrl());
    state.socket = socket;
    socket.onopen = function () {
      state.retries = 0;
      setStatus("open", "Connected");
      startPing();
      updateSend();
    };
    socket.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      handle(event);
    };
    socket.onclose = function (closed) {
      if (state.socket !== socket) return;
      stopPing();
      if (state.answering) finishAnswer("The connection dropped before the answer finished; ask again.");
      if (closed.code === CLOSE_UNAUTHORIZED || state.signedOut) {
        setStatus("error", "Signed out");
        var note = addNotice("Your session has ended. ", "error");
        var link = element("a", "", "Sign in again");
        link.href = "/?next=" + encodeURIComponent(window.location.pathname + window.location.search);
        note.appendChild(link);
        updateSend();
        return;
      }
      var delay = Math.min(8000, 500 * Math.pow(2, state.retries));
      state.retries += 1;
      setStatus("reconnecting", "Disconnected — retrying in " + Math.max(1, Math.round(delay / 1000)) + " s");
      state.reconnectTimer = window.setTimeout(connect, delay);
      updateSend();
    };
  }

  function ask(text) {
    text = (text || "").trim();
    if (!text || state.answering || !isOpen()) return;
    addMessage("user", text);
    state.current = addMessage("assistant", "");
    state.current.classList.add("streaming");
    state.tools = {};
    var payload = { type: "message", message: text, portfolio_id: root.dataset.portfolioId, mode: els.mode.value };
    if (state.sessionId) payload.session_id = state.sessionId;
    setBusy(true, "Agent is answering…");
    state.socket.send(JSON.stringify(payload));
    els.input.value = "";
    updateSend();
  }

  els.form.addEventListener("submit", function (event) {
    event.preventDefault();
    ask(els.input.value);
  });
  els.input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ask(els.input.value);
    }
  });
  els.input.addEventListener("input", updateSend);
  els.messages.addEventListener("click", function (event) {
    var button = event.target.closest("[data-suggest]");
    if (button) ask(button.textContent);
  });

  // For the end-to-end tests and the curious: the live socket, to see (or drop) the connection.
  root.chatClient = {
    get socket() { return state.socket; },
    get sessionId() { return state.sessionId; }
  };

  scrollDown(true);
  connect();
})();
