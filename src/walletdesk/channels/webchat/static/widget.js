/* WalletDesk chat widget. Plain JavaScript, served by WalletDesk, no third-party requests.
 *
 * <script src="https://desk.example/webchat/widget.js" data-site="ws_…" defer></script>
 * Options (data- attributes): locale (zh-CN | en; without it the visitor's browser language:
 * English when it prefers English to Chinese, else zh-CN), color (#rrggbb), position (right | left),
 * and a signed identity of the logged-in user: user-id, user-expires, user-signature,
 * user-name, user-email (see docs/webchat-protocol.md).
 *
 * Isolated in a shadow root; user text is only ever set with textContent.
 */
(function () {
  "use strict";
  if (window.WalletDeskChat && window.WalletDeskChat.loaded) return;

  var script = document.currentScript || document.querySelector("script[data-site][src*='/webchat/widget.js']");
  if (!script) return;
  var data = script.dataset;
  var BASE = new URL(script.src, location.href).origin;
  var WS_BASE = BASE.replace(/^http/, "ws");
  var SITE = data.site || "";
  var LOCALE = pickLocale(data.locale);
  var COLOR = /^#[0-9a-fA-F]{3,8}$/.test(data.color || "") ? data.color : "#1677ff";
  var POSITION = data.position === "left" ? "left" : "right";
  var IDENTITY = data.userId && data.userSignature ? {
    user_id: data.userId,
    expires: parseInt(data.userExpires || "0", 10),
    signature: data.userSignature,
    name: data.userName || null,
    email: data.userEmail || null
  } : null;

  var TEXT = {
    "zh-CN": {
      title: "在线客服", open: "打开在线客服", close: "收起", placeholder: "请输入您的问题…",
      send: "发送", attach: "发送图片或文件", waiting: "正在为您接入客服",
      position: "您排在第 {p} 位", soon: "客服马上接入", eta: "预计等待约 {m} 分钟",
      etaShort: "预计等待不到 1 分钟", talking: "{name} 正在为您服务", typing: "{name} 正在输入…",
      agentDefault: "客服", ticket: "工单号 {n} — 在任何渠道引用此号码即可",
      sending: "发送中…", sent: "已发送", read: "已读", failed: "发送失败",
      offlineTitle: "客服暂时不在线", offlineHours: "当前不在服务时间。",
      offlineIntro: "请留言，我们会通过邮件或电话回复您。", name: "您的称呼", email: "邮箱",
      offlineChatIntro: "您的对话仍然保留（工单号 {n}）。请留下邮箱或手机号和留言，客服会在这里或通过您留下的联系方式回复您。",
      leftInChat: "已收到，您的留言已加入工单 {n}。我们会尽快回复。",
      phone: "手机号", message: "留言内容", leave: "提交留言", needContact: "请填写邮箱或手机号",
      left: "已收到您的留言，工单号 {n}。我们会尽快回复。", ended: "对话已结束",
      endedFollowUp: "客服会继续跟进工单 {n}，结果将通过邮件通知您。",
      endedFollowUpPhone: "客服会继续跟进工单 {n}，并通过您留下的手机号联系您。",
      endedFollowUpAsk: "客服会继续跟进工单 {n}。请留下邮箱或手机号，以便我们把结果告诉您：",
      contactSave: "提交联系方式", contactSaved: "好的，结果将发送到您的邮箱。",
      contactSavedPhone: "好的，我们会通过手机号联系您。",
      contactNotLinked: "这个联系方式暂时无法用于本工单。客服的回复会显示在这里，请稍后回来查看。",
      badPhone: "请填写有效的手机号", needMessage: "请填写留言内容", nameTooLong: "称呼太长了",
      network: "网络不通，请检查网络后重试。",
      err_too_many_connections: "此网络打开的对话太多，请关闭其他聊天窗口后刷新页面。",
      err_hello_timeout: "连接超时，正在重新连接…", err_hello_required: "连接出错，正在重新连接…",
      err_internal: "服务器暂时出了问题，请稍后再试。", err_unavailable: "暂时无法保存，请稍后重试。",
      err_too_many_errors: "请求出错太多，连接已断开，稍后会自动重连。",
      err_site_inactive: "此网站的在线客服已暂停服务。", err_bad_token: "会话已失效，请刷新页面。",
      err_bad_file: "无法发送此文件：只支持图片（PNG、JPEG、GIF、WebP）、PDF 和文本文件，且内容须与文件类型一致。",
      err_bad_form: "无法读取这次上传（文件名可能太长），请重命名文件后重试。",
      err_rate_limited: "操作太频繁，请稍后再试。",
      unavailableGaveUp: "消息暂时无法保存，已停止重试。刷新页面或重新连接后会再次发送。",
      err_conversation_ended: "对话已结束，请开始新对话后再发送。",
      err_conversation_open: "对话还在进行中。", err_no_conversation: "请先发送一条消息。",
      err_conflict: "已经提交过了。", err_need_contact: "请填写邮箱或手机号",
      err_bad_field: "填写的内容无效，请检查后重试。", err_not_found: "找不到相关内容，请刷新页面。",
      err_forbidden: "没有权限，请刷新页面。",
      rate: "请为本次服务评分", comment: "还有什么想告诉我们的？（可选）", submit: "提交评价",
      thanks: "感谢您的评价！", restart: "开始新对话", end: "结束对话",
      reconnecting: "网络连接中断，正在重连…", suggestions: "您可能想了解", tooLarge: "消息太长了",
      rateLimited: "发送太快了，稍后自动重试", fileTooLarge: "文件太大了（最大 {mb} MB）",
      error: "出错了：{e}", star: "{n} 星", you: "您", originRefused: "此网站未被允许使用在线客服。",
      identityRefused: "无法验证您的登录身份，请刷新页面后重试。", agentJoined: "{name} 已接入",
      transcript: "把聊天记录发到我的邮箱", transcriptSend: "发送记录",
      transcriptSent: "已发送到 {email}，请查收。", badEmail: "请填写有效的邮箱地址",
      solved: "问题已解决", solvedLabel: "问题已解决：{title}",
      solvedThanks: "很高兴帮到您！如果还有其他问题，随时在这里告诉我们。"
    },
    en: {
      title: "Live chat", open: "Open live chat", close: "Minimise", placeholder: "Type your question…",
      send: "Send", attach: "Send a picture or file", waiting: "Connecting you to an agent",
      position: "You are number {p} in the queue", soon: "An agent will be with you shortly",
      eta: "Estimated wait about {m} min", etaShort: "Estimated wait under a minute",
      talking: "{name} is helping you", typing: "{name} is typing…", agentDefault: "Agent",
      ticket: "Ticket {n} — quote it on any channel", sending: "Sending…", sent: "Sent",
      read: "Read", failed: "Not sent", offlineTitle: "No agent is online right now",
      offlineHours: "We are outside our service hours.",
      offlineIntro: "Leave a message and we will answer by email or phone.", name: "Your name",
      offlineChatIntro: "Your chat stays open (ticket {n}). Leave your email or mobile number and a message: an agent will answer here or on the contact you give.",
      leftInChat: "Thank you, your message was added to ticket {n}. We will answer soon.",
      email: "Email", phone: "Mobile number", message: "Your message", leave: "Send message",
      needContact: "Please give an email or a mobile number",
      left: "We have your message, ticket {n}. We will answer soon.", ended: "The chat has ended",
      endedFollowUp: "The agent will follow up on ticket {n} and let you know by email.",
      endedFollowUpPhone: "The agent will follow up on ticket {n} and call you on the number you gave.",
      endedFollowUpAsk: "The agent will follow up on ticket {n}. Leave an email or mobile number so we can tell you the result:",
      contactSave: "Save my contact", contactSaved: "Thank you, the result will come to your email.",
      contactSavedPhone: "Thank you, we will call you on that number.",
      contactNotLinked: "We cannot use that address for this ticket. The agent's answer will appear here: come back to this chat later.",
      badPhone: "Please enter a valid mobile number", needMessage: "Please write your message",
      nameTooLong: "The name is too long", network: "No network. Check your connection and try again.",
      err_too_many_connections: "Too many chats are open from this network. Close other chat windows and reload the page.",
      err_hello_timeout: "The connection timed out, reconnecting…",
      err_hello_required: "Connection error, reconnecting…",
      err_internal: "Something went wrong on our side. Please try again later.",
      err_unavailable: "This could not be saved right now. Please try again shortly.",
      err_too_many_errors: "Too many failed requests: disconnected, reconnecting shortly.",
      err_site_inactive: "Live chat is switched off on this website.",
      err_bad_token: "Your chat session has expired. Reload the page.",
      err_bad_file: "This file cannot be sent: pictures (PNG, JPEG, GIF, WebP), PDF and text files only, and the content must match the file type.",
      err_bad_form: "The upload could not be read (the file name may be too long). Rename the file and try again.",
      unavailableGaveUp: "The message could not be saved for now, so it is no longer retried. It will be sent again when you reload the page or reconnect.",
      err_rate_limited: "Too many requests. Please try again shortly.",
      err_conversation_ended: "The chat has ended. Start a new chat to send this.",
      err_conversation_open: "The chat is still open.", err_no_conversation: "Send a message first.",
      err_conflict: "You have sent this already.", err_need_contact: "Please give an email or a mobile number",
      err_bad_field: "Something you entered is not valid. Please check it.",
      err_not_found: "This could not be found. Reload the page.",
      err_forbidden: "Not allowed. Reload the page.",
      rate: "How did we do?", comment: "Anything else to tell us? (optional)", submit: "Send rating",
      thanks: "Thank you for your rating!", restart: "Start a new chat", end: "End chat",
      reconnecting: "Connection lost, reconnecting…", suggestions: "These may help",
      tooLarge: "This message is too long", rateLimited: "Sending too fast, retrying shortly",
      fileTooLarge: "The file is too large (max {mb} MB)", error: "Something went wrong: {e}",
      star: "{n} stars", you: "You", originRefused: "This website may not use this chat.",
      identityRefused: "Your sign-in could not be verified. Reload the page and try again.",
      agentJoined: "{name} joined", transcript: "Email me the transcript",
      transcriptSend: "Send transcript", transcriptSent: "Sent to {email}. Check your inbox.",
      badEmail: "Please enter a valid email address",
      solved: "This solved it", solvedLabel: "This solved it: {title}",
      solvedThanks: "Glad that helped! If anything else comes up, just type it here."
    }
  }[LOCALE];

  // The wallet's data-locale when it gives one; otherwise the visitor's browser, who is the
  // one reading: its first preferred language that is Chinese or English. Anything else
  // (no preference, Japanese, French only…) gets zh-CN, the product's first language.
  function pickLocale(given) {
    if (/^en(?![a-z])/i.test(given || "")) return "en";
    if (/^zh(?![a-z])/i.test(given || "")) return "zh-CN";
    var wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    for (var i = 0; i < wanted.length; i++) {
      if (/^en(?![a-z])/i.test(wanted[i] || "")) return "en";
      if (/^zh(?![a-z])/i.test(wanted[i] || "")) return "zh-CN";
    }
    return "zh-CN";
  }

  function t(key, values) {
    return (TEXT[key] || key).replace(/\{(\w+)\}/g, function (_, name) {
      return values && values[name] !== undefined ? String(values[name]) : "";
    });
  }

  // The server's `message` is English for developers: people read the code, translated here.
  // Its text is shown only for a code this widget does not know yet.
  var FIELD_TEXT = { email: "badEmail", phone: "badPhone", message: "needMessage", name: "nameTooLong" };
  function errorText(error) {
    var code = error.code || "";
    if (code === "too_large") {
      return error.field === "file"
        ? t("fileTooLarge", { mb: Math.round(state.limits.max_attachment_bytes / 1048576) })
        : t("tooLarge");
    }
    if (code === "origin_not_allowed" || code === "unknown_site") return t("originRefused");
    if (code === "bad_identity" || code === "identity_expired") return t("identityRefused");
    if ((code === "bad_field" || code === "need_contact") && FIELD_TEXT[error.field]) {
      return code === "need_contact" ? t("needContact") : t(FIELD_TEXT[error.field]);
    }
    if (TEXT["err_" + code]) return t("err_" + code);
    return t("error", { e: error.message || code });
  }

  // An HTTP answer's body ({error, code, fields}) in the socket's error shape.
  function httpError(status, body) {
    body = body || {};
    var fields = Array.isArray(body.fields) ? body.fields : [];
    return {
      code: body.code || (status === 429 ? "rate_limited" : status >= 500 ? "internal" : ""),
      field: fields.length ? fields[0].field : null,
      message: body.error || "HTTP " + status
    };
  }

  function readAnswer(response) {
    return response.json().catch(function () { return {}; }).then(function (body) {
      return { ok: response.ok, body: body, error: response.ok ? null : httpError(response.status, body) };
    });
  }

  // --- storage: survives reloads so unacknowledged messages are resent ----------------------
  // One store per site and signed-in user: a shared phone never mixes two users' chats.
  var STORE_KEY = "walletdesk.chat." + SITE + "." + (IDENTITY ? IDENTITY.user_id : "visitor");
  var memory = {};
  function load() {
    try { return JSON.parse(localStorage.getItem(STORE_KEY) || "{}") || {}; } catch (e) { return memory; }
  }
  function save() {
    var value = { token: state.token, pending: state.pending, open: state.open };
    try { localStorage.setItem(STORE_KEY, JSON.stringify(value)); } catch (e) { memory = value; }
  }

  var saved = load();
  var state = {
    token: saved.token || null,
    // A fresh page shows the latest history; a reconnect within the page asks only for what
    // came after the last message it has.
    lastSeenId: 0,
    pending: Array.isArray(saved.pending) ? saved.pending : [],
    open: !!saved.open,
    status: "new", ticket: null, agent: null, online: true, openHours: true,
    limits: { max_text_chars: 4000, max_attachment_bytes: 10485760, attachment_types: [] },
    welcomed: false, fatal: false, unread: 0, maxAgentId: 0, readSent: 0
  };
  var knownEmail = IDENTITY && IDENTITY.email ? IDENTITY.email : "";
  var ws = null;
  var retry = 0;
  var retryTimer = null;
  var shown = {};        // server message id → bubble
  var byClient = {};     // client id → bubble

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // --- DOM -----------------------------------------------------------------------------------
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function icon(d, size) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", String(size));
    svg.setAttribute("height", String(size));
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "1.8");
    path.setAttribute("stroke-linecap", "round");
    path.setAttribute("stroke-linejoin", "round");
    svg.appendChild(path);
    return svg;
  }

  var host = el("div");
  host.id = "walletdesk-chat";
  host.style.setProperty("--wd-brand", COLOR);
  var root = host.attachShadow({ mode: "open" });
  var style = el("link");
  style.rel = "stylesheet";
  style.href = BASE + "/webchat/static/widget.css?v=4";
  root.appendChild(style);

  var shell = el("div", "wd wd-" + POSITION);
  shell.setAttribute("lang", LOCALE);
  var launcher = el("button", "wd-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", t("open"));
  launcher.appendChild(icon("M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.5 4v-4h0A2.5 2.5 0 0 1 4 13.5z", 28));
  var badge = el("span", "wd-badge");
  badge.hidden = true;
  launcher.appendChild(badge);

  var panel = el("section", "wd-panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", t("title"));
  panel.hidden = true;

  var header = el("header", "wd-header");
  var headText = el("div", "wd-head-text");
  headText.appendChild(el("strong", "wd-title", t("title")));
  var statusLine = el("div", "wd-status");
  headText.appendChild(statusLine);
  header.appendChild(headText);
  var endButton = el("button", "wd-end", t("end"));
  endButton.type = "button";
  endButton.hidden = true;
  header.appendChild(endButton);
  var closeButton = el("button", "wd-close", "×");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", t("close"));
  header.appendChild(closeButton);

  var banner = el("div", "wd-notice wd-reconnecting", t("reconnecting"));
  banner.hidden = true;
  var ticketLine = el("div", "wd-ticket");
  ticketLine.hidden = true;
  var queueLine = el("div", "wd-queue");
  queueLine.hidden = true;
  var log = el("div", "wd-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  var typingLine = el("div", "wd-typing");
  typingLine.hidden = true;
  var suggestBox = el("div", "wd-suggest");
  suggestBox.setAttribute("role", "group");
  suggestBox.setAttribute("aria-label", t("suggestions"));
  suggestBox.hidden = true;

  var composer = el("form", "wd-composer");
  var input = el("textarea", "wd-input");
  input.rows = 1;
  input.placeholder = t("placeholder");
  input.setAttribute("aria-label", t("placeholder"));
  var fileInput = el("input");
  fileInput.type = "file";
  fileInput.hidden = true;
  var attachButton = el("button", "wd-attach");
  attachButton.appendChild(icon("M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5", 20));
  attachButton.type = "button";
  attachButton.title = t("attach");
  attachButton.setAttribute("aria-label", t("attach"));
  var sendButton = el("button", "wd-send", t("send"));
  sendButton.type = "submit";
  composer.appendChild(attachButton);
  composer.appendChild(fileInput);
  composer.appendChild(input);
  composer.appendChild(sendButton);

  var offline = buildOfflineForm();
  var rating = buildRating();
  var transcript = buildTranscript();
  var contactForm = buildContactForm();
  var restartButton = el("button", "wd-restart", t("restart"));
  restartButton.type = "button";
  restartButton.hidden = true;

  [header, banner, ticketLine, queueLine, log, typingLine, suggestBox, offline.form, contactForm.box,
    rating.box, transcript.box, restartButton, composer].forEach(function (node) { panel.appendChild(node); });
  shell.appendChild(panel);
  shell.appendChild(launcher);
  root.appendChild(shell);

  // "Leave a message". Before a chat exists it opens a ticket of its own (POST /api/offline).
  // Once the customer is in a chat (waiting, and the last agent went away or the chat was
  // escalated to a tier with nobody online) it stays in that chat: the address goes on the
  // conversation with the `contact` frame, the message as an ordinary chat message (acked,
  // resent until stored), and the ticket number is the chat's own.
  function buildOfflineForm() {
    var form = el("form", "wd-offline");
    form.hidden = true;
    // The server judges the address; its answer is shown in the widget's language.
    form.noValidate = true;
    var title = el("strong", "wd-offline-title", t("offlineTitle"));
    var intro = el("p", "wd-offline-intro", t("offlineIntro"));
    var fields = {};
    form.appendChild(title);
    form.appendChild(intro);
    [["name", "text", 100], ["email", "email", 320], ["phone", "tel", 40]].forEach(function (f) {
      var label = el("label", "wd-field");
      label.appendChild(el("span", null, t(f[0])));
      var field = el("input");
      field.type = f[1];
      field.name = f[0];
      field.maxLength = f[2];
      label.appendChild(field);
      form.appendChild(label);
      fields[f[0]] = field;
    });
    fields.email.value = knownEmail || "";
    var label = el("label", "wd-field");
    label.appendChild(el("span", null, t("message")));
    var message = el("textarea");
    message.name = "message";
    message.rows = 4;
    label.appendChild(message);
    form.appendChild(label);
    fields.message = message;
    var result = el("p", "wd-offline-result");
    result.hidden = true;
    var submit = el("button", "wd-primary", t("leave"));
    submit.type = "submit";
    form.appendChild(result);
    form.appendChild(submit);

    function show(text, isError) {
      result.hidden = false;
      result.classList.toggle("wd-error", !!isError);
      result.textContent = text;
    }

    var api = {
      form: form, pending: false, asked: "",
      // The conversation whose chat already has this visitor's address.
      savedFor: null,
      render: function () {
        var inChat = state.status === "waiting";
        var saved = inChat && api.savedFor === state.conversation;
        intro.textContent = (state.openHours ? "" : t("offlineHours") + " ") +
          (inChat ? t("offlineChatIntro", { n: state.ticket || "" }) : t("offlineIntro"));
        // The chat keeps an address, not a name: it is not asked for there.
        fields.name.parentNode.hidden = inChat;
        fields.email.parentNode.hidden = saved;
        fields.phone.parentNode.hidden = saved;
      },
      saved: function (answerBy) {
        api.pending = false;
        submit.disabled = false;
        // An address another customer record holds is not added: say so, promise nothing.
        if (!answerBy || (api.asked === "email" && answerBy !== "email")) {
          show(t("contactNotLinked"), true);
          return;
        }
        api.savedFor = state.conversation;
        show(t("leftInChat", { n: state.ticket || "" }));
        api.render();
      },
      failed: function (frame) {
        api.pending = false;
        submit.disabled = false;
        show(errorText(frame), true);
      }
    };

    function leaveInChat() {
      var email = fields.email.value.trim();
      var phone = fields.phone.value.trim();
      var text = fields.message.value.replace(/\s+$/, "");
      var hasAddress = api.savedFor === state.conversation;
      if (!hasAddress && !email && !phone) { show(t("needContact"), true); return; }
      if (hasAddress && !text.trim()) { show(t("needMessage"), true); return; }
      if (text.length > state.limits.max_text_chars) { show(t("tooLarge"), true); return; }
      if (!connected()) { show(t("network"), true); return; }
      if (!hasAddress) {
        if (email) knownEmail = email;
        api.asked = email ? "email" : "phone";
        api.pending = true;
        submit.disabled = true;
        result.hidden = true;
        send({ type: "contact", name: fields.name.value.trim(), email: email, phone: phone });
      }
      if (text.trim()) sendText(text);
      fields.message.value = "";
      if (!api.pending) show(t("leftInChat", { n: state.ticket || "" }));
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (state.status === "waiting") { leaveInChat(); return; }
      if (!fields.email.value.trim() && !fields.phone.value.trim()) {
        show(t("needContact"), true);
        return;
      }
      if (!fields.message.value.trim()) { show(t("needMessage"), true); return; }
      submit.disabled = true;
      if (fields.email.value.trim()) knownEmail = fields.email.value.trim();
      fetch(BASE + "/webchat/api/offline?site=" + encodeURIComponent(SITE), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          id: form.dataset.clientId || (form.dataset.clientId = newId().replace(/[^A-Za-z0-9_-]/g, "")),
          name: fields.name.value, email: fields.email.value, phone: fields.phone.value,
          message: fields.message.value, locale: LOCALE
        })
      }).then(readAnswer).then(function (answer) {
        if (answer.ok) {
          show(t("left", { n: answer.body.ticket }));
          form.dataset.clientId = "";
          fields.message.value = "";
        } else {
          show(errorText(answer.error), true);
        }
      }).catch(function () {
        show(t("network"), true);
      }).then(function () { submit.disabled = false; });
    });
    return api;
  }

  function buildRating() {
    var box = el("form", "wd-rating");
    box.hidden = true;
    var endedText = el("p", "wd-ended", t("ended"));
    box.appendChild(endedText);
    box.appendChild(el("strong", null, t("rate")));
    var stars = el("div", "wd-stars");
    var chosen = 0;
    var buttons = [];
    for (var i = 1; i <= 5; i++) {
      (function (n) {
        var star = el("button", "wd-star", "★");
        star.type = "button";
        star.setAttribute("aria-label", t("star", { n: n }));
        star.addEventListener("click", function () {
          chosen = n;
          buttons.forEach(function (b, index) { b.classList.toggle("wd-on", index < n); });
          submit.disabled = false;
        });
        buttons.push(star);
        stars.appendChild(star);
      })(i);
    }
    box.appendChild(stars);
    var comment = el("textarea", "wd-comment");
    comment.rows = 2;
    comment.maxLength = 2000;
    comment.placeholder = t("comment");
    box.appendChild(comment);
    var submit = el("button", "wd-primary", t("submit"));
    submit.type = "submit";
    submit.disabled = true;
    box.appendChild(submit);
    var thanks = el("p", "wd-thanks", t("thanks"));
    thanks.hidden = true;
    box.appendChild(thanks);
    box.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!chosen) return;
      send({ type: "rate", score: chosen, comment: comment.value });
      submit.disabled = true;
    });
    return {
      box: box, endedText: endedText,
      done: function () {
        stars.hidden = true; comment.hidden = true; submit.hidden = true; thanks.hidden = false;
      }
    };
  }

  // After the end: the chat's public messages by email (prefilled with the address we know).
  function buildTranscript() {
    var box = el("form", "wd-transcript");
    box.hidden = true;
    var label = el("label", "wd-field");
    label.appendChild(el("span", null, t("transcript")));
    var field = el("input");
    field.type = "email";
    field.name = "email";
    field.maxLength = 320;
    field.required = true;
    field.value = knownEmail || "";
    label.appendChild(field);
    box.appendChild(label);
    var submit = el("button", "wd-primary", t("transcriptSend"));
    submit.type = "submit";
    box.appendChild(submit);
    var result = el("p", "wd-transcript-result");
    result.hidden = true;
    box.appendChild(result);
    var api = {
      box: box, pending: false,
      sent: function (email) {
        api.pending = false;
        submit.disabled = false;
        result.hidden = false;
        result.classList.remove("wd-error");
        result.textContent = t("transcriptSent", { email: email });
      },
      failed: function (frame) {
        api.pending = false;
        submit.disabled = false;
        result.hidden = false;
        result.classList.add("wd-error");
        result.textContent = frame.field === "email" ? t("badEmail")
          : frame.code === "rate_limited" ? t("rateLimited") : errorText(frame);
      }
    };
    box.addEventListener("submit", function (event) {
      event.preventDefault();
      var email = field.value.trim();
      if (!email) { api.failed({ field: "email" }); return; }
      knownEmail = email;
      api.pending = true;
      submit.disabled = true;
      result.hidden = true;
      send({ type: "transcript", email: email });
    });
    return api;
  }

  // A follow-up promised by email needs an address: an anonymous visitor is asked for one
  // (the `contact` frame) instead of being told an email will come.
  function buildContactForm() {
    var box = el("form", "wd-contact");
    box.hidden = true;
    // The server judges the address; its answer is shown in the widget's language.
    box.noValidate = true;
    var intro = el("p", "wd-contact-intro");
    box.appendChild(intro);
    var fields = {};
    [["email", "email", 320], ["phone", "tel", 40]].forEach(function (f) {
      var label = el("label", "wd-field");
      label.appendChild(el("span", null, t(f[0])));
      var field = el("input");
      field.type = f[1];
      field.name = f[0];
      field.maxLength = f[2];
      label.appendChild(field);
      box.appendChild(label);
      fields[f[0]] = field;
    });
    fields.email.value = knownEmail || "";
    var submit = el("button", "wd-primary", t("contactSave"));
    submit.type = "submit";
    box.appendChild(submit);
    var result = el("p", "wd-contact-result");
    result.hidden = true;
    box.appendChild(result);
    var api = {
      box: box, pending: false, wanted: false,
      ask: function (ticket) {
        api.wanted = true;
        intro.textContent = t("endedFollowUpAsk", { n: ticket || "" });
      },
      asked: "",
      saved: function (answerBy) {
        api.pending = false;
        submit.disabled = false;
        result.hidden = false;
        // An address another customer record holds is not added: say so, promise nothing.
        var linked = answerBy && !(api.asked === "email" && answerBy !== "email");
        result.classList.toggle("wd-error", !linked);
        if (!linked) { result.textContent = t("contactNotLinked"); return; }
        result.textContent = answerBy === "email" ? t("contactSaved") : t("contactSavedPhone");
        Object.keys(fields).forEach(function (k) { fields[k].parentNode.hidden = true; });
        submit.hidden = true;
      },
      failed: function (frame) {
        api.pending = false;
        submit.disabled = false;
        result.hidden = false;
        result.classList.add("wd-error");
        result.textContent = errorText(frame);
      }
    };
    box.addEventListener("submit", function (event) {
      event.preventDefault();
      var email = fields.email.value.trim();
      var phone = fields.phone.value.trim();
      if (!email && !phone) { api.failed({ code: "need_contact", field: "email" }); return; }
      if (email) knownEmail = email;
      api.asked = email ? "email" : "phone";
      api.pending = true;
      submit.disabled = true;
      result.hidden = true;
      send({ type: "contact", email: email, phone: phone });
    });
    return api;
  }

  // What the end of a chat promises, from what the server says will happen.
  function endedText(followUp, answerBy, ticket) {
    if (!followUp) return t("ended");
    if (answerBy === "email") return t("endedFollowUp", { n: ticket });
    if (answerBy === "phone") return t("endedFollowUpPhone", { n: ticket });
    contactForm.ask(ticket);
    return t("ended");
  }

  // --- rendering -------------------------------------------------------------------------------
  function bubble(author) {
    var row = el("div", "wd-msg wd-" + author);
    var body = el("div", "wd-bubble");
    row.appendChild(body);
    var meta = el("div", "wd-meta");
    row.appendChild(meta);
    row._body = body;
    row._meta = meta;
    return row;
  }

  function setText(row, text) { row._body.textContent = text; }

  function addAttachments(row, files) {
    (files || []).forEach(function (file) {
      var url = BASE + "/webchat/api/attachments/" + encodeURIComponent(file.id) + "?token=" +
        encodeURIComponent(state.token || "");
      if (/^image\/(png|jpeg|gif|webp)$/.test(file.type)) {
        var img = el("img", "wd-image");
        img.alt = file.name;
        img.src = url + "&inline=true";
        row._body.appendChild(img);
      } else {
        var link = el("a", "wd-file", file.name);
        link.href = url;
        link.rel = "noopener";
        link.target = "_blank";
        row._body.appendChild(link);
      }
    });
  }

  function showMessage(message) {
    if (shown[message.id]) return shown[message.id];
    var row = message.client_id && byClient[message.client_id];
    if (!row) {
      row = bubble(message.author === "customer" ? "customer" : message.author === "agent" ? "agent" : "system");
      if (message.author === "agent") {
        row._meta.textContent = message.name || t("agentDefault");
      }
      setText(row, message.text || "");
      addAttachments(row, message.attachments);
      insertInOrder(row, message.id);
    } else {
      setText(row, message.text || row._body.textContent);
      addAttachments(row, message.attachments);
      row.classList.remove("wd-pending");
      row._meta.textContent = t("sent");
      insertInOrder(row, message.id);
    }
    row.dataset.id = message.id;
    shown[message.id] = row;
    if (message.author === "customer") {
      if (!row._meta.textContent) row._meta.textContent = t("sent");
    }
    if (message.id > state.lastSeenId) state.lastSeenId = message.id;
    if (message.author === "agent") {
      state.maxAgentId = Math.max(state.maxAgentId, message.id);
      send({ type: "delivered", up_to: message.id });
      if (!state.open) { state.unread += 1; renderBadge(); }
      markRead();
    }
    scrollDown();
    return row;
  }

  function insertInOrder(row, id) {
    // Stored messages are ordered by server id; ones still sending stay at the bottom.
    var children = log.children;
    for (var i = 0; i < children.length; i++) {
      var other = children[i];
      if (other === row) continue;
      var otherId = parseFloat(other.dataset.id || "0");
      if (!otherId || otherId > id) { log.insertBefore(row, other); return; }
    }
    log.appendChild(row);
  }

  function showPending(item) {
    var row = byClient[item.id];
    if (!row) {
      row = bubble("customer");
      row.classList.add("wd-pending");
      setText(row, item.text);
      byClient[item.id] = row;
      log.appendChild(row);
    }
    row._meta.textContent = item.failed ? t("failed") : t("sending");
    row.classList.toggle("wd-failed", !!item.failed);
    scrollDown();
  }

  function systemNote(text) {
    var row = bubble("system");
    setText(row, text);
    // Placed after the last stored message, before anything still sending.
    var at = state.lastSeenId + 0.5;
    insertInOrder(row, at);
    row.dataset.id = String(at);
    scrollDown();
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function renderBadge() {
    badge.hidden = state.unread === 0 || state.open;
    badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
  }

  function renderStatus() {
    var chatting = state.status === "active";
    var waiting = state.status === "waiting";
    var ended = state.status === "ended";
    var offlineMode = !state.online && !chatting && !ended && state.welcomed;
    statusLine.textContent = chatting ? t("talking", { name: state.agent || t("agentDefault") })
      : waiting ? t("waiting") : ended ? t("ended") : "";
    offline.form.hidden = !offlineMode;
    offline.render();
    composer.hidden = offlineMode || ended;
    rating.box.hidden = !ended;
    contactForm.box.hidden = !ended || !contactForm.wanted;
    transcript.box.hidden = !ended;
    restartButton.hidden = !ended;
    endButton.hidden = !(chatting || waiting);
    queueLine.hidden = !waiting || !queueLine.textContent;
    if (state.ticket) {
      ticketLine.hidden = false;
      ticketLine.textContent = t("ticket", { n: state.ticket });
    } else {
      ticketLine.hidden = true;
    }
  }

  function renderQueue(queue) {
    if (!queue || !queue.position) { queueLine.textContent = ""; renderStatus(); return; }
    var parts = [t("position", { p: queue.position })];
    if (queue.eta_seconds === 0) parts.push(t("soon"));
    else if (queue.eta_seconds !== null && queue.eta_seconds !== undefined) {
      parts.push(queue.eta_seconds < 60 ? t("etaShort") : t("eta", { m: Math.ceil(queue.eta_seconds / 60) }));
    }
    queueLine.textContent = parts.join(" · ");
    renderStatus();
  }

  function markRead() {
    if (!state.open || document.visibilityState === "hidden") return;
    if (state.maxAgentId > state.readSent) {
      state.readSent = state.maxAgentId;
      send({ type: "read", up_to: state.maxAgentId });
    }
  }

  function markCustomerRead(upTo) {
    Object.keys(shown).forEach(function (id) {
      var row = shown[id];
      if (parseInt(id, 10) <= upTo && row.classList.contains("wd-customer")) row._meta.textContent = t("read");
    });
  }

  // --- the socket ------------------------------------------------------------------------------
  function connected() { return !!(ws && ws.readyState === 1 && state.welcomed); }

  function send(frame) {
    if (connected()) ws.send(JSON.stringify(frame));
  }

  function connect() {
    if (state.fatal || !SITE) return;
    clearTimeout(retryTimer);
    try {
      ws = new WebSocket(WS_BASE + "/webchat/ws?site=" + encodeURIComponent(SITE));
    } catch (e) { scheduleReconnect(); return; }
    ws.onopen = function () {
      ws.send(JSON.stringify({
        type: "hello", token: state.token, identity: IDENTITY, locale: LOCALE,
        last_seen_id: state.lastSeenId
      }));
    };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      handle(frame);
    };
    ws.onclose = function (event) {
      state.welcomed = false;
      if (event.code === 4403 || event.code === 4401) { state.fatal = true; return; }
      banner.hidden = false;
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    clearTimeout(retryTimer);
    var delay = Math.min(30000, 1000 * Math.pow(2, retry)) * (0.5 + Math.random() / 2);
    retry += 1;
    retryTimer = setTimeout(connect, delay);
  }

  // A message the server could not store (`unavailable`) is resent a few times, further
  // apart each time, then shown as not sent; a new connection (or a reload) tries it again.
  var MAX_UNAVAILABLE_RESENDS = 5;

  function resendPending() {
    state.pending.forEach(function (item) {
      if (item.failed === "unavailable") { item.failed = false; item.unavailable = 0; showPending(item); }
      if (!item.failed) ws.send(JSON.stringify({ type: "message", id: item.id, text: item.text }));
    });
  }

  function handle(frame) {
    switch (frame.type) {
      case "welcome":
        retry = 0;
        banner.hidden = true;
        if (state.token && frame.token && frame.conversation && state.conversation &&
            frame.conversation !== state.conversation) {
          log.textContent = ""; shown = {}; byClient = {};
        }
        state.conversation = frame.conversation;
        state.token = frame.token;
        state.status = frame.status;
        state.ticket = frame.ticket;
        state.agent = frame.agent;
        state.online = frame.online;
        state.openHours = frame.open;
        state.limits = frame.limits || state.limits;
        // The picker offers only what the server accepts (it still checks the bytes).
        fileInput.accept = (state.limits.attachment_types || []).join(",");
        state.welcomed = true;
        if (frame.status === "ended") {
          rating.endedText.textContent = endedText(frame.follow_up, frame.answer_by, frame.ticket);
        }
        (frame.history || []).forEach(showMessage);
        if (frame.customer_read_id) markCustomerRead(frame.customer_read_id);
        state.pending.forEach(showPending);
        if (frame.rating) rating.done();
        save();
        renderQueue(frame.queue);
        renderStatus();
        resendPending();
        markRead();
        break;
      case "ack":
        var index = -1;
        state.pending.forEach(function (item, i) { if (item.id === frame.id) index = i; });
        var item = index >= 0 ? state.pending.splice(index, 1)[0] : null;
        save();
        if (frame.ticket && !state.ticket) { state.ticket = frame.ticket; }
        if (state.status === "new") state.status = "waiting";
        showMessage({ id: frame.message_id, author: "customer", client_id: frame.id,
          text: frame.text || (item ? item.text : (byClient[frame.id] ? byClient[frame.id]._body.textContent : "")) });
        renderStatus();
        break;
      case "message":
        showMessage(frame.message);
        break;
      case "typing":
        typingLine.hidden = !frame.active;
        typingLine.textContent = t("typing", { name: frame.name || t("agentDefault") });
        clearTimeout(typingLine._timer);
        if (frame.active) typingLine._timer = setTimeout(function () { typingLine.hidden = true; }, 5000);
        break;
      case "read":
        markCustomerRead(frame.up_to);
        break;
      case "status":
        var joined = frame.status === "active" && frame.agent && frame.agent !== state.agent;
        state.status = frame.status;
        state.agent = frame.agent;
        if (joined) systemNote(t("agentJoined", { name: frame.agent }));
        if (frame.status !== "waiting") queueLine.textContent = "";
        renderStatus();
        break;
      case "queue":
        renderQueue(frame);
        break;
      case "availability":
        state.online = frame.online;
        state.openHours = frame.open;
        renderStatus();
        break;
      case "ticket":
        state.ticket = frame.number;
        renderStatus();
        break;
      case "ended":
        state.status = "ended";
        typingLine.hidden = true;
        if (frame.ticket) state.ticket = frame.ticket;
        rating.endedText.textContent = endedText(frame.follow_up, frame.answer_by, state.ticket);
        renderStatus();
        break;
      case "rated":
        rating.done();
        break;
      case "transcript_queued":
        transcript.sent(frame.email);
        break;
      case "contact_saved":
        if (offline.pending) offline.saved(frame.answer_by);
        else contactForm.saved(frame.answer_by);
        break;
      case "history":
        (frame.messages || []).forEach(showMessage);
        break;
      case "resync":
        send({ type: "history", after: state.lastSeenId });
        break;
      case "error":
        handleError(frame);
        break;
    }
  }

  function handleError(frame) {
    var item = null;
    state.pending.forEach(function (p) { if (p.id === frame.ref) item = p; });
    if (frame.code === "origin_not_allowed" || frame.code === "unknown_site" ||
        frame.code === "site_inactive" || frame.code === "bad_identity" ||
        frame.code === "identity_expired") {
      state.fatal = true; systemNote(errorText(frame)); return;
    }
    // Transcript and contact requests are answered in order, and their errors carry no ref.
    if (!item && !frame.fatal && offline.pending) { offline.failed(frame); return; }
    if (!item && !frame.fatal && contactForm.pending) { contactForm.failed(frame); return; }
    if (!item && !frame.fatal && transcript.pending) { transcript.failed(frame); return; }
    if (item) {
      var wait = Math.max(1, frame.retry_after || 1) * 1000;
      if (frame.code === "rate_limited") {
        setTimeout(function () { send({ type: "message", id: item.id, text: item.text }); }, wait);
        return;
      }
      if (frame.code === "unavailable") {
        item.unavailable = (item.unavailable || 0) + 1;
        if (item.unavailable <= MAX_UNAVAILABLE_RESENDS) {
          setTimeout(function () {
            if (!item.failed) send({ type: "message", id: item.id, text: item.text });
          }, wait * item.unavailable);
          return;
        }
        item.failed = "unavailable";
        save();
        showPending(item);
        systemNote(t("unavailableGaveUp"));
        return;
      }
      if (frame.code === "conversation_ended") return;  // resent once a new chat starts
      item.failed = true;
      save();
      showPending(item);
      systemNote(errorText(frame));
      return;
    }
    if (frame.fatal) systemNote(errorText(frame));
  }

  // --- actions ---------------------------------------------------------------------------------
  function sendText(text) {
    text = text.replace(/\s+$/, "");
    if (!text.trim()) return;
    if (text.length > state.limits.max_text_chars) { systemNote(t("tooLarge")); return; }
    concludeOffer();
    var item = { id: newId(), text: text };
    state.pending.push(item);
    save();
    showPending(item);
    send({ type: "message", id: item.id, text: text });
    sendTyping(false);
  }

  var typingActive = false;
  var typingSentAt = 0;
  var typingTimer = null;
  function sendTyping(active) {
    var now = Date.now();
    if (active && typingActive && now - typingSentAt < 2000) { resetTypingTimer(); return; }
    if (!active && !typingActive) return;
    typingActive = active;
    typingSentAt = now;
    if (state.status === "waiting" || state.status === "active") send({ type: "typing", active: active });
    if (active) resetTypingTimer();
  }
  function resetTypingTimer() {
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { sendTyping(false); }, 3000);
  }

  // --- suggestions, and whether one answered the question before a chat started ------------
  // One question is one id: the first set of suggestions shown while no chat is under way
  // names it, until the customer says an article solved it or sends the message anyway.
  // The help center counts these reports into the deflection rate (docs/helpcenter.md).
  var offer = freshOffer();
  function freshOffer() { return { id: null, locale: LOCALE, opened: {} }; }

  function report(outcome, suggestion) {
    if (!offer.id) return;
    var body = { suggestion_id: offer.id, outcome: outcome, locale: offer.locale };
    if (suggestion && suggestion.slug) {
      body.slug = suggestion.slug;
      body.locale = suggestion.locale || offer.locale;
    }
    fetch(BASE + "/webchat/api/deflections?site=" + encodeURIComponent(SITE), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).catch(function () { /* a lost report costs a statistic, never the chat */ });
  }

  // The customer is starting a chat (a message or a file): suggestions did not answer it.
  function concludeOffer() {
    if (offer.id && state.status === "new") report("not_resolved");
    offer = freshOffer();
  }

  // The article page asks "did this solve it?" too, and counts the answer for this question.
  function withSuggestion(url, id) {
    try {
      var link = new URL(url);
      link.searchParams.set("s", id);
      return link.href;
    } catch (e) { return url; }
  }

  function solvedBy(suggestion) {
    report("resolved", suggestion);
    offer = freshOffer();
    stopSuggesting();
    input.value = "";
    sendTyping(false);
    systemNote(t("solvedThanks"));
    input.focus();
  }

  function suggestionRow(s, tracking) {
    var row = el("div", "wd-suggest-item");
    var link = el("a", "wd-suggest-link", s.title);
    link.href = tracking && s.slug ? withSuggestion(s.url, offer.id) : s.url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    if (tracking) {
      var id = offer.id;
      link.addEventListener("click", function () {
        if (offer.id !== id || offer.opened[s.url]) return;
        offer.opened[s.url] = true;
        report("opened", s);
      });
    }
    row.appendChild(link);
    if (tracking) {
      var solved = el("button", "wd-solved", t("solved"));
      solved.type = "button";
      solved.setAttribute("aria-label", t("solvedLabel", { title: s.title }));
      solved.addEventListener("click", function () { solvedBy(s); });
      row.appendChild(solved);
    }
    return row;
  }

  var suggestTimer = null;
  var suggestSeq = 0;  // answers to an older request than the latest are dropped
  function stopSuggesting() {
    clearTimeout(suggestTimer);
    suggestSeq += 1;
    suggestBox.hidden = true;
    suggestBox.textContent = "";
  }

  function suggest(text) {
    clearTimeout(suggestTimer);
    var seq = ++suggestSeq;
    if (text.trim().length < 2) { suggestBox.hidden = true; return; }
    suggestTimer = setTimeout(function () {
      fetch(BASE + "/webchat/api/suggestions?site=" + encodeURIComponent(SITE) + "&locale=" + LOCALE +
        "&q=" + encodeURIComponent(text.slice(0, 200)))
        .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
        .then(function (body) {
          if (seq !== suggestSeq) return;
          var list = (body.suggestions || []).filter(function (s) { return /^https?:\/\//.test(s.url); });
          suggestBox.textContent = "";
          suggestBox.hidden = list.length === 0;
          if (!list.length) return;
          // Only before a chat starts is there a chat to save; during one, links are enough.
          var tracking = state.status === "new" && typeof body.suggestion_id === "string";
          if (tracking && !offer.id) {
            offer.id = body.suggestion_id;
            offer.locale = list[0].locale || LOCALE;
            report("shown");
          }
          suggestBox.appendChild(el("span", "wd-suggest-title", t("suggestions")));
          list.forEach(function (s) { suggestBox.appendChild(suggestionRow(s, tracking)); });
        }).catch(function () { if (seq === suggestSeq) suggestBox.hidden = true; });
    }, 400);
  }

  function upload(file) {
    if (file.size > state.limits.max_attachment_bytes) {
      systemNote(t("fileTooLarge", { mb: Math.round(state.limits.max_attachment_bytes / 1048576) }));
      return;
    }
    concludeOffer();
    var form = new FormData();
    var id = newId();
    form.append("token", state.token || "");
    form.append("id", id.replace(/[^A-Za-z0-9_-]/g, ""));
    form.append("file", file, file.name);
    var row = bubble("customer");
    row.classList.add("wd-pending");
    setText(row, file.name);
    row._meta.textContent = t("sending");
    log.appendChild(row);
    fetch(BASE + "/webchat/api/uploads", { method: "POST", body: form })
      .then(readAnswer)
      .then(function (answer) {
        row.remove();
        if (answer.ok) {
          if (state.status === "new") state.status = "waiting";
          showMessage(answer.body.message);
          renderStatus();
        } else {
          systemNote(errorText(answer.error));
        }
      })
      .catch(function () { row.remove(); systemNote(t("network")); });
  }

  function setOpen(open) {
    state.open = open;
    panel.hidden = !open;
    shell.classList.toggle("wd-is-open", open);
    launcher.setAttribute("aria-expanded", String(open));
    if (open) {
      state.unread = 0;
      input.focus();
      scrollDown();
      markRead();
    }
    renderBadge();
    save();
  }

  launcher.addEventListener("click", function () { setOpen(!state.open); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  endButton.addEventListener("click", function () { send({ type: "end" }); });
  restartButton.addEventListener("click", function () {
    send({ type: "restart" });
    log.textContent = ""; shown = {}; byClient = {};
    state.pending.forEach(function (item) { item.failed = false; });
    state.ticket = null; state.status = "new"; state.agent = null; state.maxAgentId = 0; state.readSent = 0;
    state.lastSeenId = 0;
    var fresh = buildRating();
    rating.box.replaceWith(fresh.box);
    rating = fresh;
    var freshTranscript = buildTranscript();
    transcript.box.replaceWith(freshTranscript.box);
    transcript = freshTranscript;
    var freshContact = buildContactForm();
    contactForm.box.replaceWith(freshContact.box);
    contactForm = freshContact;
    renderStatus();
  });
  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    sendText(input.value);
    input.value = "";
    stopSuggesting();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit ? composer.requestSubmit() : composer.dispatchEvent(new Event("submit"));
    }
  });
  input.addEventListener("input", function () {
    sendTyping(input.value.length > 0);
    suggest(input.value);
  });
  attachButton.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    if (fileInput.files && fileInput.files[0]) upload(fileInput.files[0]);
    fileInput.value = "";
  });
  document.addEventListener("visibilitychange", markRead);
  window.addEventListener("online", function () { if (!ws || ws.readyState > 1) { retry = 0; connect(); } });

  function mount() {
    document.body.appendChild(host);
    setOpen(state.open);
    renderStatus();
    connect();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  window.WalletDeskChat = {
    loaded: true,
    open: function () { setOpen(true); },
    close: function () { setOpen(false); }
  };
})();
