/* The local LINE emulator's page: a chat per LINE user, the dev mailbox, and the raw log.
 *
 * Vanilla JS, no framework. Untrusted text (bot messages, mails, webhook bodies) is only ever
 * put into the page as text nodes (textContent), never as HTML. Styles the Flex JSON asks for
 * are set through the CSSOM (element.style), which the CSP (style-src 'self') allows.
 */
"use strict";

(function () {
  const body = document.body;
  const urls = {
    send: body.dataset.sendUrl,
    log: body.dataset.logUrl,
    mailbox: body.dataset.mailboxUrl,
  };
  const POLL_MS = 1000;
  const MAILBOX_POLL_MS = 2000;
  const store = window.localStorage;

  // -- small DOM helpers ----------------------------------------------------------------------
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeUrl(value) {
    try {
      const url = new URL(String(value), window.location.href);
      return ["http:", "https:", "tel:", "mailto:"].includes(url.protocol) ? url.href : null;
    } catch (_e) {
      return null;
    }
  }

  const URL_RE = /https?:\/\/[A-Za-z0-9\-._~:/?#[\]@!$&()*+,;=%]+/g;

  /** Append ``text`` to ``parent`` with http(s) URLs as links (text nodes and <a> only). */
  function appendLinkified(parent, text) {
    text = String(text);
    let last = 0;
    for (const match of text.matchAll(URL_RE)) {
      const url = match[0].replace(/[.,;:!?)\]]+$/, "");
      parent.append(document.createTextNode(text.slice(last, match.index)));
      const href = safeUrl(url);
      if (href) {
        const a = el("a", "link", url);
        a.href = href;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        parent.append(a);
      } else {
        parent.append(document.createTextNode(url));
      }
      last = match.index + url.length;
    }
    parent.append(document.createTextNode(text.slice(last)));
  }

  // Every time on the page is Japan's (Asia/Tokyo), as the bot's messages and the mails say, whatever
  // zone the browser runs in.
  const TOKYO = "Asia/Tokyo";
  const tokyoClock = new Intl.DateTimeFormat("ja-JP", { timeZone: TOKYO, hour: "2-digit", minute: "2-digit",
    second: "2-digit", hourCycle: "h23" });
  const tokyoDateTime = new Intl.DateTimeFormat("ja-JP", { timeZone: TOKYO, year: "numeric", month: "numeric",
    day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

  /** "16:33:38" in Tokyo for a Unix time in seconds (a timeline entry's ``at``). */
  function timeLabel(seconds) {
    return tokyoClock.format(new Date(seconds * 1000));
  }

  /** "2026/12/5 16:33" in Tokyo for anything Date() reads (ISO 8601, a mail's RFC 5322 Date); "" if unreadable. */
  function tokyoDateTimeLabel(value) {
    const d = new Date(value);
    return isNaN(d) ? "" : tokyoDateTime.format(d);
  }

  // -- users ----------------------------------------------------------------------------------
  function newUserId() {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "U" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  let users = [];
  try {
    users = JSON.parse(store.getItem("emu.users") || "[]").filter((u) => /^U[0-9a-f]{32}$/.test(u.id));
  } catch (_e) {
    users = [];
  }
  let currentId = store.getItem("emu.current");

  function saveUsers() {
    store.setItem("emu.users", JSON.stringify(users));
    store.setItem("emu.current", currentId || "");
  }

  function currentUser() {
    return users.find((u) => u.id === currentId) || null;
  }

  function renderUserSelect() {
    const select = document.getElementById("user-select");
    select.replaceChildren();
    for (const user of users) {
      const option = el("option", null, user.name + (user.followed ? "" : "（ブロック中）"));
      option.value = user.id;
      option.selected = user.id === currentId;
      select.append(option);
    }
    const user = currentUser();
    document.getElementById("user-id").textContent = user ? user.id : "";
    document.getElementById("follow-status").textContent = user && !user.followed ? "ブロック中" : "";
  }

  function addUser() {
    const used = new Set(users.map((u) => u.name));
    let n = users.length + 1;
    while (used.has("ユーザー" + n)) n += 1;
    const user = { id: newUserId(), name: "ユーザー" + n, followed: false };
    users.push(user);
    currentId = user.id;
    saveUsers();
    renderUserSelect();
    rerenderChat();
    sendEvent({ type: "follow" }); // adding the account as a friend is how a chat starts
  }

  function switchUser(id) {
    currentId = id;
    saveUsers();
    renderUserSelect();
    rerenderChat();
  }

  // -- sending --------------------------------------------------------------------------------
  async function sendEvent(event) {
    const user = currentUser();
    if (!user) return;
    if (event.type === "follow") user.followed = true;
    if (event.type === "unfollow") user.followed = false;
    saveUsers();
    renderUserSelect();
    clearQuickReplies();
    // wait: false — the server posts the webhook from a thread and answers at once (a sync gunicorn
    // worker held by this request could not also serve the bot's reply); the outcome comes in the log.
    const payload = Object.assign({ user: user.id, displayName: user.name, wait: false }, event);
    // Show the user's own bubble before the bot has finished, and the bot's answer as soon as it is in
    // (a turn takes a few hundred milliseconds: a second's wait for the next regular poll felt slow).
    for (const ms of [150, 350, 600]) window.setTimeout(poll, ms);
    try {
      const response = await fetch(urls.send, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(payload),
        credentials: "same-origin",
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) systemNote("送信できませんでした: " + (answer.error || response.status), true);
    } catch (error) {
      systemNote("送信できませんでした: " + error, true);
    }
    poll();
  }

  function sendText(text) {
    if (text) sendEvent({ type: "text", text: text });
  }

  function sendPostback(data, displayText) {
    sendEvent({ type: "postback", data: data, displayText: displayText || null });
  }

  function handleAction(action) {
    if (!action) return;
    if (action.type === "message") sendText(action.text);
    else if (action.type === "postback") sendPostback(action.data, action.displayText || action.text);
    else if (action.type === "uri") {
      const href = safeUrl(action.uri);
      if (href) window.open(href, "_blank", "noopener,noreferrer");
    } else systemNote("この操作（" + action.type + "）はエミュレーターでは試せません", false);
  }

  // -- chat rendering -------------------------------------------------------------------------
  const chat = document.getElementById("chat");
  const loading = document.getElementById("loading");
  const quickReplies = document.getElementById("quick-replies");
  let entries = []; // every log entry seen, all users, in order
  let lastSeq = 0;
  let loadingUntil = 0;

  function scrollChat() {
    chat.scrollTop = chat.scrollHeight;
  }

  function systemNote(text, isError) {
    const note = el("div", "system-note" + (isError ? " error" : ""), text);
    chat.append(note);
    scrollChat();
  }

  function userBubble(content, extraClass) {
    const row = el("div", "row user");
    const bubble = el("div", "bubble user-bubble" + (extraClass ? " " + extraClass : ""));
    if (typeof content === "string") bubble.textContent = content;
    else bubble.append(content);
    row.append(bubble);
    chat.append(row);
  }

  function botRow(rejected) {
    const row = el("div", "row bot" + (rejected ? " rejected" : ""));
    row.append(el("div", "avatar", "あ"));
    const column = el("div", "bot-column");
    row.append(column);
    chat.append(row);
    return column;
  }

  function renderWebhook(entry) {
    const event = (entry.body && entry.body.events && entry.body.events[0]) || {};
    const message = event.message || {};
    if (event.type === "message" && message.type === "text") userBubble(message.text);
    else if (event.type === "message" && message.type === "sticker") userBubble("（スタンプ）", "sticker");
    else if (event.type === "message" && message.type === "image") userBubble("（画像）", "image");
    else if (event.type === "postback") {
      if (entry.displayText) userBubble(entry.displayText);
      else systemNote("postback: " + (event.postback && event.postback.data), false);
    } else if (event.type === "follow") systemNote("友だち追加しました", false);
    else if (event.type === "unfollow") systemNote("ブロックしました", false);
    else if (event.type === "accountLink") {
      const ok = event.link && event.link.result === "ok";
      systemNote(ok ? "LINEアカウント連携の手続きをしました" : "LINEアカウント連携に失敗しました（result: failed）", !ok);
    }
  }

  function renderApiCall(entry) {
    if (entry.api === "loading") {
      if (entry.status === 200) {
        const seconds = (entry.body && entry.body.loadingSeconds) || 5;
        loadingUntil = Math.max(loadingUntil, (entry.at + seconds) * 1000);
        updateLoading();
      }
      return;
    }
    if (!["reply", "push", "multicast"].includes(entry.api)) return;
    const messages = (entry.body && Array.isArray(entry.body.messages)) ? entry.body.messages : [];
    const rejected = entry.status !== 200;
    loadingUntil = 0;
    updateLoading();
    const column = botRow(rejected);
    if (rejected) {
      const marker = el("div", "reject-marker");
      const reason = entry.status === 400 ? "LINE would reject this: " : "LINE answered " + entry.status + ": ";
      marker.textContent = reason + (entry.errors || []).join("; ");
      column.append(marker);
    } else if (entry.api !== "reply") {
      column.append(el("div", "via", entry.api === "push" ? "プッシュ" : "マルチキャスト"));
    }
    let lastQuickReply = null;
    for (const message of messages) {
      column.append(renderMessage(message));
      lastQuickReply = message && message.quickReply ? message.quickReply : null;
    }
    const sentAt = el("time", "time", timeLabel(entry.at));
    sentAt.dateTime = new Date(entry.at * 1000).toISOString();
    sentAt.title = "日本時間";
    column.append(sentAt);
    if (!rejected) showQuickReplies(lastQuickReply);
  }

  function renderEntry(entry) {
    if (entry.kind === "webhook") {
      clearQuickReplies();
      renderWebhook(entry);
    } else if (entry.kind === "callback" && entry.status !== 200) {
      systemNote("/callback が " + (entry.status || "応答なし") + " を返しました: " + (entry.response || ""), true);
    } else if (entry.kind === "api") {
      renderApiCall(entry);
    }
  }

  function forCurrentUser(entry) {
    return currentId && (entry.users || []).includes(currentId);
  }

  function rerenderChat() {
    chat.replaceChildren();
    clearQuickReplies();
    loadingUntil = 0;
    for (const entry of entries) if (forCurrentUser(entry)) renderEntry(entry);
    updateLoading();
    scrollChat();
    rerenderRaw();
  }

  function updateLoading() {
    loading.classList.toggle("hidden", Date.now() >= loadingUntil);
  }

  // -- messages ---------------------------------------------------------------------------------
  function renderMessage(message) {
    if (!message || typeof message !== "object") return el("div", "bubble bot-bubble", "(empty)");
    if (message.type === "text") {
      const bubble = el("div", "bubble bot-bubble text");
      appendLinkified(bubble, message.text || "");
      return bubble;
    }
    if (message.type === "flex") {
      const wrap = el("div", "flex-message");
      wrap.title = message.altText || "";
      wrap.append(renderFlexContainer(message.contents || {}));
      return wrap;
    }
    if (message.type === "sticker") return el("div", "bubble bot-bubble sticker", "（スタンプ）");
    if (message.type === "template") {
      const bubble = el("div", "bubble bot-bubble text");
      bubble.textContent = message.altText || "(template)";
      return bubble;
    }
    return el("div", "bubble bot-bubble", "（" + message.type + " メッセージ）");
  }

  function clearQuickReplies() {
    quickReplies.replaceChildren();
  }

  function showQuickReplies(quickReply) {
    clearQuickReplies();
    const items = (quickReply && quickReply.items) || [];
    for (const item of items) {
      const action = item.action || {};
      const chip = el("button", "chip", action.label || action.text || action.type);
      chip.type = "button";
      chip.addEventListener("click", () => handleAction(action));
      quickReplies.append(chip);
    }
  }

  // -- Flex ------------------------------------------------------------------------------------
  const SPACING = { none: "0px", xs: "2px", sm: "4px", md: "8px", lg: "12px", xl: "16px", xxl: "20px" };
  const TEXT_SIZE = { xxs: "11px", xs: "13px", sm: "14px", md: "16px", lg: "19px", xl: "22px", xxl: "29px",
    "3xl": "35px", "4xl": "48px", "5xl": "74px" };

  function space(value) {
    if (value === undefined || value === null) return null;
    if (SPACING[value] !== undefined) return SPACING[value];
    return /^\d+(\.\d+)?(px|%)$/.test(String(value)) ? String(value) : null;
  }

  function color(value) {
    return /^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$/.test(String(value || "")) ? String(value) : null;
  }

  function renderFlexContainer(container) {
    if (container.type === "carousel") {
      const carousel = el("div", "fx-carousel");
      for (const bubble of container.contents || []) carousel.append(renderBubble(bubble));
      return carousel;
    }
    return renderBubble(container);
  }

  function renderBubble(bubble) {
    const node = el("div", "fx-bubble fx-size-" + (bubble.size || "mega"));
    const styles = bubble.styles || {};
    for (const part of ["header", "hero", "body", "footer"]) {
      const component = bubble[part];
      if (!component) continue;
      const block = el("div", "fx-block fx-" + part);
      const style = styles[part] || {};
      if (color(style.backgroundColor)) block.style.backgroundColor = color(style.backgroundColor);
      if (style.separator) block.classList.add("fx-separated");
      const root = renderComponent(component, "vertical");
      if (part !== "hero") root.classList.add("fx-root-" + part); // the block's default padding, under its colour
      block.append(root);
      node.append(block);
    }
    if (bubble.action) clickable(node, bubble.action);
    return node;
  }

  function clickable(node, action) {
    node.classList.add("fx-clickable");
    node.addEventListener("click", (event) => {
      event.stopPropagation();
      handleAction(action);
    });
    // A tappable box or text (a bar of the 料金一覧 chart) works from the keyboard too, as a button.
    node.setAttribute("role", "button");
    node.tabIndex = 0;
    node.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault();
      event.stopPropagation();
      handleAction(action);
    });
  }

  function applyCommon(node, component, parentLayout) {
    const flex = component.flex;
    if ((parentLayout === "horizontal" || parentLayout === "baseline") && flex === 0) {
      node.style.flex = "0 0 auto"; // as wide as its content
    } else if (parentLayout === "horizontal" || parentLayout === "baseline") {
      node.style.flex = (flex === undefined ? 1 : flex) + " 1 0"; // widths in the ratio of the flex values
      node.style.minWidth = "0";
    } else if (flex !== undefined) {
      node.style.flex = flex + " 1 auto";
    } else {
      node.style.flex = "0 0 auto";
    }
    for (const side of ["Top", "Bottom", "Start", "End"]) {
      const offset = space(component["offset" + side]);
      if (offset) {
        node.style.position = component.position === "absolute" ? "absolute" : "relative";
        const cssSide = { Top: "top", Bottom: "bottom", Start: "left", End: "right" }[side];
        node.style[cssSide] = offset;
      }
    }
    if (component.gravity) node.classList.add("fx-gravity-" + component.gravity);
  }

  function renderComponent(component, parentLayout) {
    switch (component.type) {
      case "box": return renderBox(component, parentLayout);
      case "text": return renderText(component, parentLayout);
      case "button": return renderButton(component, parentLayout);
      case "separator": {
        const node = el("div", "fx-separator " + (parentLayout === "vertical" ? "fx-sep-h" : "fx-sep-v"));
        if (color(component.color)) node.style.backgroundColor = color(component.color);
        return node;
      }
      case "filler": {
        const node = el("div", "fx-filler");
        node.style.flex = (component.flex === undefined ? 1 : component.flex) + " 1 0";
        return node;
      }
      case "spacer": {
        const node = el("div", "fx-spacer");
        node.style.flex = "0 0 " + (space(component.size) || "8px");
        return node;
      }
      case "image": return renderImage(component, parentLayout);
      case "icon": return el("span", "fx-icon", "●");
      default: return el("div", "fx-unknown", "[" + component.type + "]");
    }
  }

  function renderBox(box, parentLayout) {
    const layout = box.layout || "vertical";
    const node = el("div", "fx-box fx-" + layout);
    applyCommon(node, box, parentLayout);
    for (const prop of ["paddingAll", "paddingTop", "paddingBottom", "paddingStart", "paddingEnd"]) {
      const value = space(box[prop]);
      if (!value) continue;
      if (prop === "paddingAll") node.style.padding = value;
      else node.style["padding" + { paddingTop: "Top", paddingBottom: "Bottom", paddingStart: "Left",
        paddingEnd: "Right" }[prop]] = value;
    }
    if (color(box.backgroundColor)) node.style.backgroundColor = color(box.backgroundColor);
    if (color(box.borderColor)) {
      node.style.borderColor = color(box.borderColor);
      node.style.borderStyle = "solid";
      node.style.borderWidth = box.borderWidth && /^\d+px$/.test(box.borderWidth) ? box.borderWidth : "1px";
    }
    if (box.cornerRadius) node.style.borderRadius = space(box.cornerRadius) || "0px";
    if (box.width && space(box.width)) node.style.width = space(box.width);
    if (box.height && space(box.height)) node.style.height = space(box.height);
    if (box.justifyContent) node.style.justifyContent = box.justifyContent.replace("flex-", "");
    if (box.alignItems) node.style.alignItems = box.alignItems.replace("flex-", "");
    const spacing = space(box.spacing);
    (box.contents || []).forEach((child, index) => {
      const childNode = renderComponent(child, layout);
      const margin = space(child.margin) || spacing;
      if (margin && index > 0) {
        if (layout === "vertical") childNode.style.marginTop = margin;
        else childNode.style.marginLeft = margin;
      }
      node.append(childNode);
    });
    if (box.action) clickable(node, box.action);
    return node;
  }

  function renderText(text, parentLayout) {
    const node = el("div", "fx-text");
    applyCommon(node, text, parentLayout);
    node.style.fontSize = TEXT_SIZE[text.size] || (/^\d+px$/.test(text.size || "") ? text.size : TEXT_SIZE.md);
    if (text.weight === "bold") node.style.fontWeight = "bold";
    if (text.style === "italic") node.style.fontStyle = "italic";
    if (text.decoration === "line-through" || text.decoration === "underline") {
      node.style.textDecoration = text.decoration;
    }
    if (color(text.color)) node.style.color = color(text.color);
    if (text.align) node.style.textAlign = { start: "left", end: "right", center: "center" }[text.align] || "left";
    node.classList.add(text.wrap ? "fx-wrap" : "fx-nowrap");
    if (text.maxLines) {
      node.classList.add("fx-clamp");
      node.style.webkitLineClamp = String(text.maxLines);
    }
    if (Array.isArray(text.contents) && text.contents.length) {
      for (const span of text.contents) {
        const spanNode = el("span", null, span.text || "");
        if (color(span.color)) spanNode.style.color = color(span.color);
        if (span.weight === "bold") spanNode.style.fontWeight = "bold";
        if (TEXT_SIZE[span.size]) spanNode.style.fontSize = TEXT_SIZE[span.size];
        node.append(spanNode);
      }
    } else {
      node.textContent = text.text || "";
    }
    if (text.action) clickable(node, text.action);
    return node;
  }

  function renderButton(button, parentLayout) {
    const action = button.action || {};
    const style = button.style || "link";
    let node;
    const href = action.type === "uri" ? safeUrl(action.uri) : null;
    if (href) {
      node = el("a", "fx-button");
      node.href = href;
      node.target = "_blank";
      node.rel = "noopener noreferrer";
    } else {
      node = el("button", "fx-button");
      node.type = "button";
      node.addEventListener("click", () => handleAction(action));
    }
    node.textContent = action.label || "";
    node.classList.add("fx-" + style, "fx-height-" + (button.height || "md"));
    applyCommon(node, button, parentLayout);
    if (color(button.color)) {
      if (style === "link") node.style.color = color(button.color);
      else node.style.backgroundColor = color(button.color);
    }
    return node;
  }

  function renderImage(image, parentLayout) {
    const href = safeUrl(image.url);
    const node = el("div", "fx-image");
    applyCommon(node, image, parentLayout);
    if (href && new URL(href).origin === window.location.origin) {
      const img = el("img");
      img.src = href;
      img.alt = "";
      node.append(img);
    } else {
      node.textContent = "画像";
      node.classList.add("fx-image-placeholder");
    }
    if (image.action) clickable(node, image.action);
    return node;
  }

  // -- raw log ---------------------------------------------------------------------------------
  const rawLog = document.getElementById("raw-log");
  const rawAll = document.getElementById("raw-all-users");

  function rawSummary(entry) {
    if (entry.kind === "webhook") {
      return "→ webhook " + entry.event + "  (X-Line-Signature " + entry.signature.slice(0, 10) + "…)";
    }
    if (entry.kind === "callback") return "← /callback " + (entry.status || "no answer");
    return "← API " + entry.api + " " + entry.path + "  " + entry.status;
  }

  function rawEntry(entry) {
    const details = el("details", "raw raw-" + entry.kind + (entry.status && entry.status !== 200 ? " raw-bad" : ""));
    const summary = el("summary");
    summary.append(el("span", "raw-time", timeLabel(entry.at)), document.createTextNode(" " + rawSummary(entry)));
    details.append(summary);
    if (entry.errors && entry.errors.length) {
      const list = el("ul", "raw-errors");
      for (const error of entry.errors) list.append(el("li", null, error));
      details.append(list);
    }
    const content = entry.kind === "callback" ? entry.response : entry.body;
    details.append(el("pre", "raw-body", typeof content === "string" ? content : JSON.stringify(content, null, 2)));
    if (entry.users && entry.users.length) details.append(el("div", "raw-users", "users: " + entry.users.join(", ")));
    return details;
  }

  function rawVisible(entry) {
    return rawAll.checked || forCurrentUser(entry) || !(entry.users || []).length;
  }

  function rerenderRaw() {
    rawLog.replaceChildren();
    for (const entry of entries) if (rawVisible(entry)) rawLog.prepend(rawEntry(entry));
  }

  // -- polling -----------------------------------------------------------------------------------
  // Panes added later (the staff pane) subscribe here from their own static file, loaded after this one:
  //   window.LineEmulator.onEntries((entries) => { ... })  gets every new log entry, all users;
  // the server adds entries of new kinds to app.extensions["emulator_log"]; the chat ignores kinds it
  // does not know.
  const entryListeners = [];
  window.LineEmulator = {
    onEntries: (listener) => {
      entryListeners.push(listener);
      if (entries.length) listener(entries.slice()); // what came before the listener did
    },
    currentUserId: () => currentId,
    sendText: sendText,
    el: el,
    appendLinkified: appendLinkified,
  };
  let polling = false;

  async function poll() {
    if (polling) return;
    polling = true;
    try {
      const response = await fetch(urls.log + "?after=" + lastSeq, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const data = await response.json();
      if (data.last < lastSeq) { // the server restarted: start over
        entries = [];
        lastSeq = 0;
        rerenderChat();
        return;
      }
      let changed = false;
      for (const entry of data.entries) {
        entries.push(entry);
        lastSeq = Math.max(lastSeq, entry.seq);
        if (forCurrentUser(entry)) {
          renderEntry(entry);
          changed = true;
        }
        if (rawVisible(entry)) rawLog.prepend(rawEntry(entry));
      }
      if (entries.length > 3000) entries = entries.slice(-2000);
      if (changed) scrollChat();
      if (data.entries.length) {
        for (const listener of entryListeners) {
          try {
            listener(data.entries);
          } catch (error) {
            console.error(error);
          }
        }
      }
    } catch (_e) {
      // the server is restarting; try again on the next tick
    } finally {
      polling = false;
      updateLoading();
    }
  }

  // -- mailbox ----------------------------------------------------------------------------------
  const mailboxNode = document.getElementById("mailbox");
  let mailboxSignature = "";

  async function pollMailbox() {
    try {
      const response = await fetch(urls.mailbox, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const data = await response.json();
      const signature = JSON.stringify(data.mails.map((m) => [m.date, m.subject, m.to]));
      if (signature === mailboxSignature) return;
      mailboxSignature = signature;
      document.getElementById("mailbox-count").textContent = data.mails.length + " 通";
      if (data.smtp) {
        document.getElementById("mailbox-note").textContent =
          "SMTP_URL が設定されているため、メールはSMTPサーバーへ送られます。";
      }
      mailboxNode.replaceChildren();
      for (const mail of data.mails) {
        const card = el("article", "mail");
        const head = el("header", "mail-head");
        head.append(el("div", "mail-subject", mail.subject || "(件名なし)"));
        const sent = tokyoDateTimeLabel(mail.date) || mail.date || "";
        head.append(el("div", "mail-meta", "宛先: " + (mail.to || "") + "　" + sent));
        card.append(head);
        const text = el("pre", "mail-body");
        appendLinkified(text, mail.body || "");
        card.append(text);
        mailboxNode.append(card);
      }
    } catch (_e) {
      // try again next time
    }
  }

  // -- panes ------------------------------------------------------------------------------------
  function buildPaneTabs() {
    const tabs = document.getElementById("pane-tabs");
    let hidden = [];
    try {
      hidden = JSON.parse(store.getItem("emu.hiddenPanes") || "[]");
    } catch (_e) {
      hidden = [];
    }
    for (const pane of document.querySelectorAll("section.pane")) {
      const tab = el("button", "tab", pane.dataset.title || pane.id);
      tab.type = "button";
      tab.dataset.pane = pane.id;
      const setHidden = (isHidden) => {
        pane.classList.toggle("hidden", isHidden);
        tab.setAttribute("aria-pressed", String(!isHidden));
      };
      setHidden(hidden.includes(pane.id));
      tab.addEventListener("click", () => {
        const isHidden = !pane.classList.contains("hidden");
        setHidden(isHidden);
        hidden = hidden.filter((id) => id !== pane.id);
        if (isHidden) hidden.push(pane.id);
        store.setItem("emu.hiddenPanes", JSON.stringify(hidden));
      });
      tabs.append(tab);
    }
  }

  // -- wiring -----------------------------------------------------------------------------------
  function init() {
    buildPaneTabs();
    const input = document.getElementById("message-input");
    document.getElementById("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value;
      if (!text.trim()) return;
      input.value = "";
      sendText(text);
    });
    document.getElementById("user-select").addEventListener("change", (event) => switchUser(event.target.value));
    document.getElementById("add-user").addEventListener("click", addUser);
    document.getElementById("follow").addEventListener("click", () => sendEvent({ type: "follow" }));
    document.getElementById("unfollow").addEventListener("click", () => sendEvent({ type: "unfollow" }));
    document.getElementById("send-sticker").addEventListener("click", () => sendEvent({ type: "sticker" }));
    document.getElementById("send-image").addEventListener("click", () => sendEvent({ type: "image" }));
    rawAll.addEventListener("change", rerenderRaw);
    for (const button of document.querySelectorAll("button.fill")) {
      button.addEventListener("click", () => {
        input.value = button.dataset.fill;
        input.focus();
      });
    }
    renderUserSelect();
    if (!currentUser()) {
      if (users.length) switchUser(users[0].id);
      else addUser();
    }
    poll();
    pollMailbox();
    window.setInterval(poll, POLL_MS);
    window.setInterval(pollMailbox, MAILBOX_POLL_MS);
    input.focus();
  }

  init();
})();
