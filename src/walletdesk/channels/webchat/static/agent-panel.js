/* WalletDesk agent chat panel: plain JavaScript for the console (same origin, session cookie).
 *
 *   <div data-walletdesk-chat data-mode="workspace" data-csrf="…" data-locale="zh-CN"></div>
 *   <div data-walletdesk-chat data-mode="ticket" data-ticket="2611260427" data-csrf="…"></div>
 *   <a data-walletdesk-chat-badge href="/console/chat/"></a>
 *   <script src="/webchat/static/agent-panel.js" defer></script>
 *
 * One socket per page serves every element. Customer text is only ever set with textContent.
 */
(function () {
  "use strict";
  // A page may include the script twice (the layout's badge and the ticket's panel).
  if (window.WalletDeskChatPanel) return;
  window.WalletDeskChatPanel = { loaded: true };
  var roots = Array.prototype.slice.call(document.querySelectorAll("[data-walletdesk-chat]"));
  var badges = Array.prototype.slice.call(document.querySelectorAll("[data-walletdesk-chat-badge]"));
  if (!roots.length && !badges.length) return;
  var first = roots[0] || badges[0];
  var LOCALE = /^en/i.test(first.dataset.locale || document.documentElement.lang || "") ? "en" : "zh-CN";
  var CSRF = (roots[0] && roots[0].dataset.csrf) || "";

  var TEXT = {
    "zh-CN": {
      waiting: "排队中", mine: "我的对话", none: "暂无", presence: "状态", online: "在线", away: "离开",
      offline: "离线", accept: "接入", transfer: "转给同事", escalate: "升级到上一级", reason: "升级原因",
      end: "结束并解决", followUp: "结束，工单继续跟进", send: "发送", attach: "发送文件",
      placeholder: "输入回复，Enter 发送，Shift+Enter 换行", verified: "已验证", anonymous: "访客",
      ticket: "工单 {n}", typing: "客户正在输入…", delivered: "已送达", read: "已读", sending: "发送中…",
      sent: "已发送", failed: "未发送", ended: "对话已结束", endedByCustomer: "客户已离开对话",
      rated: "客户评分：{s} 星", comment: "评价：{c}", pick: "选择左侧的对话", newChat: "新的在线咨询",
      reconnecting: "连接中断，正在重连…", heldBy: "由 {name} 接待", cancel: "取消", confirm: "确定",
      chooseAgent: "选择同事", noChat: "此工单没有在线对话", error: "出错了：{e}", badge: "{n} 个待接入对话",
      tier: "L{t}", waitingFor: "等待 {m} 分钟", customer: "客户", agentDefault: "客服",
      upload_bad_file: "文件无法发送：只支持图片（PNG、JPEG、GIF、WebP）、PDF 和文本文件，且内容须与文件类型一致",
      upload_too_large: "文件太大了", upload_text_too_large: "文字太长了",
      upload_bad_form: "无法读取这次上传（文件名可能太长），请重命名文件后重试",
      error_not_online: "请先把状态设为“在线”再接入对话",
      error_agent_unavailable: "这位同事现在不在线，无法转给他/她，请另选一位"
    },
    en: {
      waiting: "Waiting", mine: "My chats", none: "None", presence: "Presence", online: "Online",
      away: "Away", offline: "Offline", accept: "Accept", transfer: "Transfer", escalate: "Escalate a tier",
      reason: "Reason for escalating", end: "End and solve", followUp: "End, keep ticket for follow-up",
      send: "Send", attach: "Send a file", placeholder: "Reply — Enter sends, Shift+Enter for a new line",
      verified: "Verified", anonymous: "Visitor", ticket: "Ticket {n}", typing: "Customer is typing…",
      delivered: "Delivered", read: "Read", sending: "Sending…", sent: "Sent", failed: "Not sent",
      ended: "The chat has ended", endedByCustomer: "The customer left the chat",
      rated: "Customer rating: {s}/5", comment: "Comment: {c}", pick: "Pick a chat on the left",
      newChat: "New live chat", reconnecting: "Connection lost, reconnecting…", heldBy: "Held by {name}",
      cancel: "Cancel", confirm: "OK", chooseAgent: "Choose a colleague", noChat: "No live chat on this ticket",
      error: "Something went wrong: {e}", badge: "{n} chats waiting", tier: "L{t}",
      waitingFor: "waiting {m} min", customer: "Customer", agentDefault: "Agent",
      upload_bad_file: "This file cannot be sent: pictures (PNG, JPEG, GIF, WebP), PDF and text files only, and the content must match the file type",
      upload_too_large: "The file is too large", upload_text_too_large: "The text is too long",
      upload_bad_form: "The upload could not be read (the file name may be too long); rename the file and try again",
      error_not_online: "Set your presence to Online before accepting a chat",
      error_agent_unavailable: "That colleague is not available now; choose another"
    }
  }[LOCALE];
  function t(key, values) {
    return (TEXT[key] || key).replace(/\{(\w+)\}/g, function (_, name) {
      return values && values[name] !== undefined ? String(values[name]) : "";
    });
  }
  // An upload's refusal ({error, code, fields}) in the agent's language; the server's
  // English only for a code this panel does not know.
  function uploadProblem(problem) {
    var field = problem.fields && problem.fields[0] ? problem.fields[0].field : "";
    var key = "upload_" + (problem.code === "too_large" && field === "text" ? "text_too_large" : problem.code);
    return TEXT[key] ? t(key) : problem.error;
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function paperclip() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "18");
    svg.setAttribute("height", "18");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5");
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "1.8");
    path.setAttribute("stroke-linecap", "round");
    svg.appendChild(path);
    return svg;
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  var me = null;
  var chats = {};          // conversation → chat summary + view state
  var waiting = [];        // conversations waiting, in order
  var views = [];
  var ws = null;
  var retry = 0;
  var pendingOpen = {};

  // --- the socket ----------------------------------------------------------------------------
  function connect() {
    ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/console/chat/ws");
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      handle(frame);
    };
    ws.onclose = function (event) {
      views.forEach(function (v) { v.setOffline(true); });
      if (event.code === 4401) { views.forEach(function (v) { v.note(t("error", { e: event.reason || "401" })); }); return; }
      var delay = Math.min(30000, 1000 * Math.pow(2, retry++)) * (0.5 + Math.random() / 2);
      setTimeout(connect, delay);
    };
  }
  function send(frame) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame));
  }

  function chat(pid) {
    if (!chats[pid]) chats[pid] = { conversation: pid, messages: {}, pending: {}, unread: 0, typing: false,
      deliveredUpTo: 0, readUpTo: 0, summary: null };
    return chats[pid];
  }
  function remember(summary) {
    var c = chat(summary.conversation);
    c.summary = summary;
    c.readUpTo = Math.max(c.readUpTo, summary.customer_read_id || 0);
    return c;
  }

  function handle(frame) {
    switch (frame.type) {
      case "hello":
        retry = 0;
        me = frame.agent;
        waiting = [];
        frame.waiting.forEach(function (s) { remember(s); waiting.push(s.conversation); });
        frame.mine.forEach(function (s) { remember(s); });
        views.forEach(function (v) { v.setOffline(false); v.hello(); });
        // Resend what was not acknowledged before the connection dropped.
        Object.keys(chats).forEach(function (pid) {
          var c = chats[pid];
          Object.keys(c.pending).forEach(function (id) {
            send({ type: "message", conversation: pid, id: id, text: c.pending[id].text });
          });
        });
        break;
      case "chat_waiting":
        remember(frame.chat);
        if (waiting.indexOf(frame.chat.conversation) < 0) {
          waiting.push(frame.chat.conversation);
          if (me && me.presence === "online") ding();
        }
        refresh();
        break;
      case "chat_taken":
        waiting = waiting.filter(function (p) { return p !== frame.conversation; });
        if (chats[frame.conversation] && chats[frame.conversation].summary) {
          chats[frame.conversation].summary.status = "active";
          chats[frame.conversation].summary.agent_id = frame.agent_id;
          chats[frame.conversation].summary.agent = frame.agent;
        }
        refresh();
        break;
      case "assigned":
        remember(frame.chat);
        waiting = waiting.filter(function (p) { return p !== frame.chat.conversation; });
        ding();
        refresh();
        break;
      case "conversation":
        var c = remember(frame.chat);
        frame.messages.forEach(function (m) { c.messages[m.id] = m; });
        waiting = frame.chat.status === "waiting"
          ? (waiting.indexOf(frame.chat.conversation) < 0 ? waiting.concat([frame.chat.conversation]) : waiting)
          : waiting.filter(function (p) { return p !== frame.chat.conversation; });
        views.forEach(function (v) { v.opened(frame.chat.conversation); });
        refresh();
        break;
      case "message":
        var target = chat(frame.conversation);
        var message = frame.message;
        if (message.client_id && target.pending[message.client_id] && message.author === "agent") {
          delete target.pending[message.client_id];
        }
        var isNew = !target.messages[message.id];
        target.messages[message.id] = message;
        if (isNew && message.author === "customer") {
          target.typing = false;
          if (!isVisible(frame.conversation)) target.unread += 1; else markRead(frame.conversation);
        }
        refresh(frame.conversation);
        break;
      case "ack":
        var owner = chat(frame.conversation);
        var sent = owner.pending[frame.id];
        delete owner.pending[frame.id];
        if (sent && !owner.messages[frame.message_id]) {
          owner.messages[frame.message_id] = { id: frame.message_id, author: "agent", text: sent.text,
            name: me ? me.name : "", client_id: frame.id };
        }
        refresh(frame.conversation);
        break;
      case "typing":
        var typingChat = chat(frame.conversation);
        typingChat.typing = frame.active;
        clearTimeout(typingChat.typingTimer);
        if (frame.active) typingChat.typingTimer = setTimeout(function () { typingChat.typing = false; refresh(frame.conversation); }, 5000);
        refresh(frame.conversation);
        break;
      case "delivered":
        chat(frame.conversation).deliveredUpTo = Math.max(chat(frame.conversation).deliveredUpTo, frame.up_to);
        refresh(frame.conversation);
        break;
      case "read":
        if (frame.by === "customer") {
          chat(frame.conversation).readUpTo = Math.max(chat(frame.conversation).readUpTo, frame.up_to);
          refresh(frame.conversation);
        }
        break;
      case "status":
        var s = chat(frame.conversation);
        if (s.summary) {
          s.summary.status = frame.status;
          s.summary.agent_id = frame.agent_id;
          s.summary.agent = frame.agent;
          s.summary.tier = frame.tier;
        }
        if (frame.status !== "waiting") waiting = waiting.filter(function (p) { return p !== frame.conversation; });
        refresh();
        break;
      case "ended":
        var e = chat(frame.conversation);
        if (e.summary) { e.summary.status = "ended"; e.summary.ended_by = frame.by; }
        waiting = waiting.filter(function (p) { return p !== frame.conversation; });
        refresh();
        break;
      case "rated":
        var r = chat(frame.conversation);
        if (r.summary) { r.summary.rating = frame.score; r.summary.rating_comment = frame.comment; }
        refresh(frame.conversation);
        break;
      case "presence":
        if (me) me.presence = frame.presence;
        refresh();
        break;
      case "agents":
        views.forEach(function (v) { v.agents(frame.agents); });
        break;
      case "ticket":
        refresh();
        break;
      case "resync":
        Object.keys(chats).forEach(function (pid) {
          if (isVisible(pid)) send({ type: "open", conversation: pid, after: lastId(chats[pid]) });
        });
        break;
      case "error":
        if (frame.ref) {
          Object.keys(chats).forEach(function (pid) {
            var p = chats[pid].pending[frame.ref];
            if (p) { p.failed = frame.code !== "rate_limited"; if (!p.failed) setTimeout(function () { send({ type: "message", conversation: pid, id: frame.ref, text: p.text }); }, (frame.retry_after || 1) * 1000); }
          });
        }
        views.forEach(function (v) { v.error(frame); });
        refresh();
        break;
    }
  }

  function customerName(summary) {
    return summary.customer || t("anonymous") + " " + (summary.visitor || "");
  }

  function lastId(c) {
    var ids = Object.keys(c.messages).map(Number);
    return ids.length ? Math.max.apply(null, ids) : 0;
  }
  function isVisible(pid) {
    return document.visibilityState !== "hidden" && views.some(function (v) { return v.current === pid; });
  }
  function markRead(pid) {
    var c = chats[pid];
    if (!c) return;
    var maxCustomer = 0;
    Object.keys(c.messages).forEach(function (id) {
      if (c.messages[id].author === "customer") maxCustomer = Math.max(maxCustomer, Number(id));
    });
    if (maxCustomer > (c.agentReadSent || 0)) {
      c.agentReadSent = maxCustomer;
      send({ type: "read", conversation: pid, up_to: maxCustomer });
    }
    c.unread = 0;
  }

  var audio = null;
  function ding() {
    // A short two-tone chime made here: no sound file to fetch.
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [880, 1320].forEach(function (hz, i) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        osc.frequency.value = hz;
        gain.gain.setValueAtTime(0.08, audio.currentTime + i * 0.15);
        gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + i * 0.15 + 0.14);
        osc.connect(gain).connect(audio.destination);
        osc.start(audio.currentTime + i * 0.15);
        osc.stop(audio.currentTime + i * 0.15 + 0.15);
      });
    } catch (e) { /* sound is a nicety */ }
  }

  function refresh(pid) {
    badges.forEach(function (badge) {
      badge.textContent = waiting.length ? t("badge", { n: waiting.length }) : "";
      badge.hidden = waiting.length === 0;
    });
    if (waiting.length && document.visibilityState === "hidden") document.title = "(" + waiting.length + ") " + baseTitle;
    else document.title = baseTitle;
    views.forEach(function (v) { v.render(pid); });
  }
  var baseTitle = document.title;

  // --- a panel ---------------------------------------------------------------------------------
  function Panel(root) {
    var self = this;
    var mode = root.dataset.mode === "ticket" ? "ticket" : "workspace";
    self.current = null;
    root.classList.add("wdc", "wdc-mode-" + mode);
    root.textContent = "";

    var notice = el("div", "wdc-notice", t("reconnecting"));
    notice.hidden = true;
    root.appendChild(notice);

    var side = el("aside", "wdc-side");
    var presenceLabel = el("label", "wdc-presence");
    presenceLabel.appendChild(el("span", null, t("presence")));
    var presence = el("select");
    presence.name = "presence";
    ["online", "away", "offline"].forEach(function (p) {
      var option = el("option", null, t(p));
      option.value = p;
      presence.appendChild(option);
    });
    presence.addEventListener("change", function () { send({ type: "presence", presence: presence.value }); });
    presenceLabel.appendChild(presence);
    var waitingTitle = el("h2", "wdc-list-title");
    var waitingList = el("ul", "wdc-list wdc-waiting");
    var mineTitle = el("h2", "wdc-list-title", t("mine"));
    var mineList = el("ul", "wdc-list wdc-mine");
    [presenceLabel, waitingTitle, waitingList, mineTitle, mineList].forEach(function (n) { side.appendChild(n); });
    if (mode === "workspace") root.appendChild(side);

    var main = el("section", "wdc-main");
    var head = el("header", "wdc-head");
    var who = el("strong", "wdc-who");
    var verified = el("span", "wdc-verified", t("verified"));
    var ticketLink = el("a", "wdc-ticket-link");
    var state = el("span", "wdc-state");
    [who, verified, ticketLink, state].forEach(function (n) { head.appendChild(n); });
    var actions = el("div", "wdc-actions");
    var accept = button(t("accept"), "wdc-accept", function () { send({ type: "accept", conversation: self.current }); });
    var transfer = button(t("transfer"), "wdc-transfer", function () { send({ type: "agents" }); });
    var escalate = button(t("escalate"), "wdc-escalate", function () { showEscalate(); });
    var end = button(t("end"), "wdc-end", function () { send({ type: "end", conversation: self.current }); });
    var followUp = button(t("followUp"), "wdc-follow-up", function () { send({ type: "end", conversation: self.current, follow_up: true }); });
    [accept, transfer, escalate, end, followUp].forEach(function (n) { actions.appendChild(n); });
    var dialog = el("div", "wdc-dialog");
    dialog.hidden = true;
    var log = el("div", "wdc-log");
    log.setAttribute("role", "log");
    // The last refusal, outside the log: the log is redrawn from the chat's messages.
    var problem = el("div", "wdc-error");
    problem.setAttribute("role", "alert");
    problem.hidden = true;
    var typing = el("div", "wdc-typing", t("typing"));
    typing.hidden = true;
    var footer = el("div", "wdc-footer");
    var composer = el("form", "wdc-composer");
    var input = el("textarea", "wdc-input");
    input.rows = 2;
    input.placeholder = t("placeholder");
    input.setAttribute("aria-label", t("placeholder"));
    var file = el("input");
    file.type = "file";
    file.hidden = true;
    var attach = button("", "wdc-attach", function () { file.click(); });
    attach.appendChild(paperclip());
    attach.setAttribute("aria-label", t("attach"));
    attach.title = t("attach");
    var sendButton = el("button", "wdc-send", t("send"));
    sendButton.type = "submit";
    [attach, file, input, sendButton].forEach(function (n) { composer.appendChild(n); });
    var empty = el("p", "wdc-empty", mode === "ticket" ? t("noChat") : t("pick"));
    [head, actions, dialog, log, typing, problem, footer, composer].forEach(function (n) { main.appendChild(n); });
    main.appendChild(empty);
    root.appendChild(main);

    function button(label, cls, onClick) {
      var b = el("button", "wdc-button " + cls, label);
      b.type = "button";
      b.addEventListener("click", onClick);
      return b;
    }

    function showEscalate() {
      dialog.textContent = "";
      dialog.hidden = false;
      var reason = el("input", "wdc-reason");
      reason.placeholder = t("reason");
      reason.setAttribute("aria-label", t("reason"));
      dialog.appendChild(reason);
      dialog.appendChild(button(t("confirm"), "wdc-confirm", function () {
        if (!reason.value.trim()) { reason.focus(); return; }
        send({ type: "transfer", conversation: self.current, escalate: true, reason: reason.value });
        dialog.hidden = true;
      }));
      dialog.appendChild(button(t("cancel"), "wdc-cancel", function () { dialog.hidden = true; }));
      reason.focus();
    }

    self.agents = function (list) {
      if (!self.current) return;
      dialog.textContent = "";
      dialog.hidden = false;
      var select = el("select", "wdc-agent-select");
      select.setAttribute("aria-label", t("chooseAgent"));
      list.forEach(function (a) {
        if (me && a.id === me.id) return;
        var option = el("option", null, a.name + " · " + t(a.presence) + " · " + a.chats);
        option.value = a.id;
        select.appendChild(option);
      });
      dialog.appendChild(select);
      dialog.appendChild(button(t("confirm"), "wdc-confirm", function () {
        if (!select.value) return;
        send({ type: "transfer", conversation: self.current, to_agent: Number(select.value) });
        dialog.hidden = true;
      }));
      dialog.appendChild(button(t("cancel"), "wdc-cancel", function () { dialog.hidden = true; }));
    };

    self.open = function (pid) {
      self.current = pid;
      dialog.hidden = true;
      problem.hidden = true;
      var c = chat(pid);
      c.unread = 0;
      send({ type: "open", conversation: pid, after: 0 });
      self.render();
    };
    self.opened = function (pid) {
      if (mode === "ticket" && !self.current) self.current = pid;
      if (pid === self.current) markRead(pid);
    };
    self.hello = function () {
      presence.value = me.presence;
      if (mode === "ticket") send({ type: "open", ticket: root.dataset.ticket });
      else if (self.current) send({ type: "open", conversation: self.current, after: 0 });
      self.render();
    };
    self.setOffline = function (off) { notice.hidden = !off; };
    self.note = function (text) { notice.hidden = false; notice.textContent = text; };
    self.error = function (frame) {
      if (mode === "ticket" && frame.code === "not_found" && !self.current) { empty.hidden = false; return; }
      // Refusals the agent can act on, in their language; others as the server said them.
      var known = TEXT["error_" + frame.code];
      problem.textContent = known || t("error", { e: frame.message });
      problem.hidden = false;
    };

    function listItem(summary) {
      var c = chat(summary.conversation);
      var li = el("li", "wdc-item");
      if (summary.conversation === self.current) li.classList.add("wdc-current");
      var link = el("button", "wdc-item-button");
      link.type = "button";
      link.appendChild(el("span", "wdc-item-name", customerName(summary)));
      if (summary.verified) link.appendChild(el("span", "wdc-verified", t("verified")));
      link.appendChild(el("span", "wdc-item-subject", summary.subject || ""));
      if (summary.status === "waiting") {
        var minutes = Math.max(0, Math.round((Date.now() - Date.parse(summary.queued_at)) / 60000));
        link.appendChild(el("span", "wdc-item-meta", t("tier", { t: summary.tier }) + " · " + t("waitingFor", { m: minutes })));
      }
      if (c.unread) link.appendChild(el("span", "wdc-unread", String(c.unread)));
      link.addEventListener("click", function () { self.open(summary.conversation); });
      li.appendChild(link);
      return li;
    }

    function renderLists() {
      presence.value = me ? me.presence : "offline";
      waitingTitle.textContent = t("waiting") + " (" + waiting.length + ")";
      waitingList.textContent = "";
      waiting.forEach(function (pid) {
        if (chats[pid] && chats[pid].summary) waitingList.appendChild(listItem(chats[pid].summary));
      });
      if (!waiting.length) waitingList.appendChild(el("li", "wdc-none", t("none")));
      mineList.textContent = "";
      var mine = Object.keys(chats).map(function (pid) { return chats[pid].summary; }).filter(function (s) {
        return s && me && s.agent_id === me.id && s.status === "active";
      });
      mine.forEach(function (s) { mineList.appendChild(listItem(s)); });
      if (!mine.length) mineList.appendChild(el("li", "wdc-none", t("none")));
    }

    function renderConversation() {
      var c = self.current && chats[self.current];
      var s = c && c.summary;
      [head, actions, log, footer, composer].forEach(function (n) { n.hidden = !s; });
      empty.hidden = !!s;
      if (!s) return;
      who.textContent = customerName(s);
      verified.hidden = !s.verified;
      ticketLink.textContent = s.ticket ? t("ticket", { n: s.ticket }) : "";
      ticketLink.href = s.ticket ? "/console/tickets/" + encodeURIComponent(s.ticket) : "#";
      var mineNow = me && s.agent_id === me.id;
      state.textContent = s.status === "ended" ? (s.ended_by === "customer" ? t("endedByCustomer") : t("ended"))
        : s.status === "waiting" ? t("waiting") : s.agent ? t("heldBy", { name: s.agent }) : "";
      accept.hidden = s.status !== "waiting";
      var canAct = s.status === "active" && (mineNow || (me && me.sees_all));
      transfer.hidden = escalate.hidden = end.hidden = followUp.hidden = !canAct;
      composer.hidden = !canAct;
      typing.hidden = !c.typing;
      footer.textContent = "";
      if (s.rating) {
        footer.appendChild(el("div", "wdc-rating", t("rated", { s: s.rating })));
        if (s.rating_comment) footer.appendChild(el("div", "wdc-rating-comment", t("comment", { c: s.rating_comment })));
      }
      renderLog(c);
    }

    function renderLog(c) {
      log.textContent = "";
      var ids = Object.keys(c.messages).map(Number).sort(function (a, b) { return a - b; });
      ids.forEach(function (id) {
        var m = c.messages[id];
        var row = el("div", "wdc-msg wdc-" + (m.author === "customer" ? "customer" : m.author === "agent" ? "agent" : "system"));
        row.dataset.id = id;
        row.appendChild(el("div", "wdc-name", m.author === "customer" ? customerName(c.summary) : (m.name || t("agentDefault"))));
        var body = el("div", "wdc-body", m.text);
        (m.attachments || []).forEach(function (a) {
          var url = "/console/chat/attachments/" + encodeURIComponent(a.id);
          if (/^image\/(png|jpeg|gif|webp)$/.test(a.type)) {
            var img = el("img", "wdc-image");
            img.alt = a.name;
            img.src = url + "?inline=true";
            body.appendChild(img);
          } else {
            var link = el("a", "wdc-file", a.name);
            link.href = url;
            body.appendChild(link);
          }
        });
        row.appendChild(body);
        if (m.author === "agent") {
          row.appendChild(el("div", "wdc-tick", id <= c.readUpTo ? t("read") : id <= c.deliveredUpTo ? t("delivered") : t("sent")));
        }
        log.appendChild(row);
      });
      Object.keys(c.pending).forEach(function (id) {
        var p = c.pending[id];
        var row = el("div", "wdc-msg wdc-agent wdc-pending");
        row.appendChild(el("div", "wdc-body", p.text));
        row.appendChild(el("div", "wdc-tick", p.failed ? t("failed") : t("sending")));
        log.appendChild(row);
      });
      log.scrollTop = log.scrollHeight;
    }

    self.render = function (pid) {
      if (mode === "workspace") renderLists();
      if (!pid || pid === self.current) renderConversation();
    };

    var lastTyping = 0;
    input.addEventListener("input", function () {
      var now = Date.now();
      if (self.current && now - lastTyping > 2000) {
        lastTyping = now;
        send({ type: "typing", conversation: self.current, active: true });
      }
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });
    composer.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.replace(/\s+$/, "");
      if (!text.trim() || !self.current) return;
      var id = newId();
      chat(self.current).pending[id] = { text: text };
      send({ type: "message", conversation: self.current, id: id, text: text });
      send({ type: "typing", conversation: self.current, active: false });
      lastTyping = 0;
      input.value = "";
      self.render(self.current);
    });
    file.addEventListener("change", function () {
      if (!file.files || !file.files[0] || !self.current) return;
      var form = new FormData();
      form.append("csrf", CSRF);
      form.append("conversation", self.current);
      form.append("id", newId());
      form.append("file", file.files[0], file.files[0].name);
      file.value = "";
      fetch("/console/chat/uploads", { method: "POST", body: form, credentials: "same-origin" })
        .then(function (r) { return r.ok ? null : r.json().catch(function () { return { error: String(r.status) }; }); })
        .then(function (problem) { if (problem) self.error({ message: uploadProblem(problem) }); })
        .catch(function (error) { self.error({ message: String(error) }); });
    });
    self.render();
  }

  roots.forEach(function (root) { views.push(new Panel(root)); });
  document.addEventListener("visibilitychange", function () {
    views.forEach(function (v) { if (v.current) markRead(v.current); });
    refresh();
  });
  connect();
})();
