/* The emulator's staff pane: the escalated chat of the selected LINE user, as Slack would show it.
 *
 * Reads "staff" entries of the shared timeline through window.LineEmulator.onEntries (loaded after
 * emulator.js); replies and 「対応完了」 go to /emulator/api/staff/*. Text goes in as text nodes only.
 */
"use strict";

(function () {
  const pane = document.getElementById("pane-staff");
  const emu = window.LineEmulator;
  if (!pane || !emu) return;
  const log = document.getElementById("staff-log");
  const input = document.getElementById("staff-input");
  const status = document.getElementById("staff-status");
  const closeButton = document.getElementById("staff-close");
  const REASONS = { asked: "お客様がオペレーターを希望", verification_limit: "本人確認の回数制限に達した" };
  let staffEntries = [];
  let shownUser = null;

  function when(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleString("ja-JP", { timeZone: "Asia/Tokyo", month: "numeric", day: "numeric",
      hour: "2-digit", minute: "2-digit" });
  }

  function line(className, label, text) {
    const row = emu.el("div", "staff-row " + className);
    if (label) row.append(emu.el("span", "staff-label", label));
    const body = emu.el("span", "staff-text");
    emu.appendLinkified(body, text || "");
    row.append(body);
    return row;
  }

  function render(entry) {
    const p = entry.payload || {};
    switch (entry.what) {
      case "opened": {
        const card = emu.el("div", "staff-row staff-opened");
        card.append(emu.el("div", "staff-title", "担当者との会話を希望しています" +
          (p.within_hours === false ? "（受付時間外）" : "")));
        card.append(emu.el("div", null, "表示名: " + (entry.display_name || "（不明）")));
        card.append(emu.el("div", null, "マイページ連携: " +
          (p.linked ? "連携済み（お客様番号 " + p.customer_number + "）" : "未連携")));
        card.append(emu.el("div", null, "理由: " + (REASONS[p.reason] || p.reason || "")));
        card.append(emu.el("div", null, "受付: " + when(p.opened_at)));
        if ((p.recent || []).length) {
          const list = emu.el("ul", "staff-recent");
          p.recent.forEach((text, i) => {
            const item = emu.el("li", null, text);
            const understood = (p.understood || [])[i];
            if (understood) item.append(emu.el("div", "staff-understood", "→ " + understood));
            list.append(item);
          });
          card.append(emu.el("div", "staff-label", "直前のお客様の発言と自動応答の理解（番号は伏せ字）"), list);
        }
        return card;
      }
      case "customer": return line("staff-customer", "お客様", p.text);
      case "staff": return line("staff-self", "担当者", p.text);
      case "note": return line("staff-note", "メモ", p.text);
      case "notice": return line("staff-notice", "", "（自動）担当者の返信がないため、お客様に電話窓口をご案内しました。");
      case "after_hours": return line("staff-notice", "", "（自動）受付時間外のため、お客様に" + when(p.next_opening) +
        "以降にご返信するとご案内しました。");
      case "closed": return line("staff-closed", "対応完了",
        (p.closed_by === "customer" ? "お客様が自動応答に戻りました" : p.closed_by) + "（" + when(p.closed_at) + "）");
      default: return line("", "", entry.what);
    }
  }

  function mine() {
    const user = emu.currentUserId();
    return staffEntries.filter((e) => (e.users || []).includes(user));
  }

  function isOpen(entries) {
    return entries.length > 0 && entries[entries.length - 1].what !== "closed";
  }

  function rerender() {
    shownUser = emu.currentUserId();
    log.replaceChildren();
    const entries = mine();
    for (const entry of entries) log.append(render(entry));
    log.scrollTop = log.scrollHeight;
    const open = isOpen(entries);
    status.textContent = open ? "対応中のチャットがあります" : "引き継がれたチャットはありません";
    closeButton.disabled = !open;
    input.disabled = !open;
  }

  emu.onEntries((entries) => {
    const fresh = entries.filter((e) => e.kind === "staff");
    if (!fresh.length) return;
    staffEntries = staffEntries.concat(fresh);
    rerender();
  });

  async function post(url, body) {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
      if (!response.ok) {
        const answer = await response.json().catch(() => ({}));
        status.textContent = "送信できませんでした: " + (answer.error || response.status);
      }
    } catch (error) {
      status.textContent = "送信できませんでした: " + error;
    }
  }

  document.getElementById("staff-composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    post(pane.dataset.replyUrl, { user: emu.currentUserId(), text: text });
  });
  closeButton.addEventListener("click", () => post(pane.dataset.closeUrl, { user: emu.currentUserId() }));
  window.setInterval(() => { if (emu.currentUserId() !== shownUser) rerender(); }, 500);
  rerender();
})();
