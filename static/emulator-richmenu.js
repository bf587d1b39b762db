// The emulator's rich menu: the menu the fake LINE holds for the current user (their own link, else
// the default), drawn from the uploaded image, one button over each area. A tap does what the LINE app
// does: a message action sends its text as the user, a postback posts a postback event, a URI action
// opens the page. It asks the server to sync the menus once when LINE (here) has none yet.
(function () {
  "use strict";
  const POLL_MS = 1500;
  const root = document.getElementById("richmenu");
  if (!root || !window.LineEmulator) return;
  const emulator = window.LineEmulator;
  const sendUrl = document.body.dataset.sendUrl;
  let shownKey = "";
  let syncAsked = false;

  function tap(action) {
    if (!action) return;
    if (action.type === "message") emulator.sendText(action.text);
    else if (action.type === "uri") {
      if (/^https?:\/\//.test(action.uri)) window.open(action.uri, "_blank", "noopener,noreferrer");
    } else if (action.type === "postback") {
      fetch(sendUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ user: emulator.currentUserId(), type: "postback", data: action.data,
                               displayText: action.displayText || null }),
        credentials: "same-origin",
      });
    }
  }

  function render(menu) {
    root.replaceChildren();
    if (!menu || !menu.richMenuId) {
      root.classList.add("hidden");
      return;
    }
    root.classList.remove("hidden");
    root.classList.toggle("closed", !menu.selected);
    root.dataset.richMenuId = menu.richMenuId;
    // The chat bar (LINE's: the menu's chatBarText) folds the menu away and back.
    const bar = emulator.el("button", "richmenu-bar");
    bar.type = "button";
    bar.append(emulator.el("span", "richmenu-bar-text", menu.chatBarText));
    bar.setAttribute("aria-expanded", String(!!menu.selected));
    bar.setAttribute("aria-controls", "richmenu-canvas");
    bar.addEventListener("click", () => {
      const closed = root.classList.toggle("closed");
      bar.setAttribute("aria-expanded", String(!closed));
    });
    const canvas = emulator.el("div", "richmenu-canvas");
    canvas.id = "richmenu-canvas";
    // the frame keeps the image's shape (--menu-ratio) while CSS caps its height on a small screen
    const frame = emulator.el("div", "richmenu-frame");
    frame.style.setProperty("--menu-ratio", String(menu.size.width / menu.size.height));
    canvas.append(frame);
    const image = document.createElement("img");
    image.src = menu.imageUrl;
    image.alt = menu.areas.map((a) => a.action.label || "").join("・");
    frame.append(image);
    for (const area of menu.areas) {
      const button = emulator.el("button", "richmenu-area");
      button.type = "button";
      const label = area.action.label || area.action.text || "";
      button.setAttribute("aria-label", label);
      button.title = label;
      button.dataset.label = label;
      const b = area.bounds;
      // CSSOM, not style attributes: the CSP allows no inline styles
      button.style.left = (100 * b.x / menu.size.width) + "%";
      button.style.top = (100 * b.y / menu.size.height) + "%";
      button.style.width = (100 * b.width / menu.size.width) + "%";
      button.style.height = (100 * b.height / menu.size.height) + "%";
      button.addEventListener("click", () => tap(area.action));
      frame.append(button);
    }
    root.append(bar, canvas);
  }

  async function refresh() {
    const user = emulator.currentUserId();
    if (!user) return;
    try {
      const response = await fetch(root.dataset.menuUrl + "?user=" + encodeURIComponent(user),
                                   { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const menu = await response.json();
      if (!menu.synced && !syncAsked) {
        syncAsked = true;
        fetch(root.dataset.syncUrl, { method: "POST", headers: { Accept: "application/json" },
                                      credentials: "same-origin" });
      }
      const key = user + ":" + (menu.richMenuId || "");
      if (key !== shownKey) {
        shownKey = key;
        render(menu);
      }
    } catch (_e) {
      // the server is restarting; try again on the next tick
    }
  }

  refresh();
  window.setInterval(refresh, POLL_MS);
  document.getElementById("user-select").addEventListener("change", () => window.setTimeout(refresh, 50));
})();
