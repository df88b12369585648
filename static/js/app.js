// Behaviour hooked through data-* attributes; htmx does the rest.
(() => {
  // Dialogs: a swapped-in dialog[data-modal] opens as a modal once htmx has wired its content; closing
  // removes it.
  const firstField = (root) =>
    root.querySelector(".errorlist ~ input, .errorlist ~ select, [aria-invalid=true]") ||
    root.querySelector("input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea");
  document.addEventListener("htmx:afterSettle", (e) => {
    document.querySelectorAll("dialog[data-modal]:not([open])").forEach((d) => {
      d.showModal();
      firstField(d)?.focus();
      d.addEventListener("close", () => d.remove());
    });
    // A form re-rendered inside an open dialog (errors, next step) keeps the keyboard in the dialog.
    const dialog = e.target.closest?.("dialog[open]");
    if (dialog && !dialog.contains(document.activeElement)) firstField(dialog)?.focus();
    showActiveTab();
  });
  // On a narrow screen the tab strip scrolls sideways: keep the open tab in view (without scrolling the page).
  const showActiveTab = () => {
    const tab = document.querySelector(".tab.active");
    if (tab) tab.parentElement.scrollLeft = tab.offsetLeft - tab.parentElement.offsetLeft - 16;
  };
  showActiveTab();
  // A lineage graph wider than its panel scrolls sideways: open it at its center version, upstream to the left.
  const centerLineage = () =>
    document.querySelectorAll("[data-lineage-center]").forEach((box) => {
      box.scrollLeft = Number(box.dataset.lineageCenter) - box.clientWidth / 2;
    });
  centerLineage();
  document.addEventListener("htmx:afterSettle", centerLineage);
  document.body.addEventListener("closeModal", () => {
    document.querySelectorAll("dialog[open]").forEach((d) => d.close());
  });
  document.addEventListener("click", (e) => {
    const close = e.target.closest("[data-close]");
    if (close) close.closest("dialog")?.close();
    // A menu item opening a dialog closes its popover menu.
    const item = e.target.closest("[popover] [role=menuitem]");
    if (item) item.closest("[popover]").hidePopover?.();
    const copy = e.target.closest("[data-copy]");
    if (copy) {
      const text = copy.parentElement.querySelector("code").innerText;
      navigator.clipboard?.writeText(text).then(() => {
        copy.textContent = "Copied";
        setTimeout(() => (copy.textContent = "Copy"), 1500);
      });
    }
  });

  // Menus follow the ARIA menu pattern: opening focuses the first item; arrow keys, Home and End move between
  // items; Escape closes the menu and gives focus back to the button that opened it. Two kinds open them: a
  // popover (the row ⋯ menus) and a <details> (the user menu).
  const items = (menu) => [...menu.querySelectorAll("[role=menuitem]")].filter((i) => !i.disabled);
  const opener = (menu) =>
    menu.id ? document.querySelector(`[popovertarget="${menu.id}"]`) : menu.closest("details")?.querySelector("summary");
  const closeMenu = (menu) => {
    if (menu.matches("[popover]")) menu.hidePopover?.();
    else menu.closest("details")?.removeAttribute("open");
    opener(menu)?.focus();
  };
  document.addEventListener(
    "toggle",
    (e) => {
      const menu = e.target.matches?.("[role=menu][popover]")
        ? e.target
        : e.target.matches?.("details") && e.target.querySelector(":scope > [role=menu]");
      if (menu && (e.newState === "open" || e.target.open)) items(menu)[0]?.focus();
    },
    true,
  );
  document.addEventListener("keydown", (e) => {
    const menu = e.target.closest?.("[role=menu]");
    if (!menu) return;
    const list = items(menu);
    const at = list.indexOf(e.target.closest("[role=menuitem]"));
    const go = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: list.length - 1 }[e.key];
    if (go !== undefined) {
      e.preventDefault();
      list[(go + list.length) % list.length]?.focus();
    } else if (e.key === "Escape") {
      e.preventDefault();
      closeMenu(menu);
    } else if (e.key === "Tab") {
      menu.matches("[popover]") ? menu.hidePopover?.() : menu.closest("details")?.removeAttribute("open");
    }
  });

  // Enter in a search box inside a dialog's form searches (its own hx-trigger) and does not submit the form.
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target.matches?.("[data-enter-searches]")) e.preventDefault();
  });

  // Short confirmations from the server (HX-Trigger: showMessage).
  const toast = (message, error = false) => {
    const box = document.getElementById("toasts");
    const item = document.createElement("div");
    item.className = error ? "toast error" : "toast";
    // The box is the polite live region; an error interrupts.
    if (error) item.setAttribute("role", "alert");
    item.textContent = message;
    box.appendChild(item);
    setTimeout(() => item.remove(), error ? 10000 : 6000);
  };
  document.body.addEventListener("showMessage", (e) => toast(e.detail.message));

  // A failed request says why, where the user looks: inside the open dialog (what they typed stays, since
  // htmx swaps nothing on an error), or as a toast. The reason is the error page's [data-error-message], a
  // JSON {"errors": [{"message"}]}, or a plain-text body.
  const reason = (xhr) => {
    const type = xhr.getResponseHeader("Content-Type") || "";
    const body = xhr.responseText || "";
    try {
      if (type.includes("json")) return JSON.parse(body).errors[0].message;
      if (type.includes("html")) {
        const found = new DOMParser().parseFromString(body, "text/html").querySelector("[data-error-message]");
        if (found) return found.textContent.trim();
      } else if (body.trim()) return body.trim().slice(0, 300);
    } catch (_) {
      /* fall through to the status line */
    }
    return `The server answered ${xhr.status} ${xhr.statusText}.`;
  };
  const showError = (elt, message) => {
    const dialog = elt?.closest?.("dialog[open]") || document.querySelector("dialog[open]");
    if (!dialog) return toast(message, true);
    let box = dialog.querySelector(".request-error");
    if (!box) {
      box = document.createElement("div");
      box.className = "errorlist request-error";
      box.setAttribute("role", "alert");
      const header = dialog.querySelector(".drawer-header");
      if (header) header.after(box);
      else dialog.prepend(box);
    }
    box.textContent = message;
  };
  document.body.addEventListener("htmx:responseError", (e) => showError(e.detail.elt, reason(e.detail.xhr)));
  document.body.addEventListener("htmx:sendError", (e) =>
    showError(e.detail.elt, "The server could not be reached. Check your connection and try again."),
  );
  // Opening a row's panel highlights that row (the table itself is not swapped).
  document.body.addEventListener("htmx:afterRequest", (e) => {
    const row = e.detail.successful && e.detail.elt?.closest?.("tr[data-selectable]");
    if (!row) return;
    row.parentElement.querySelectorAll("tr.selected").forEach((r) => r.classList.remove("selected"));
    row.classList.add("selected");
  });
  // A request that succeeds clears the previous failure's message.
  document.body.addEventListener("htmx:afterRequest", (e) => {
    if (e.detail.successful) e.detail.elt?.closest?.("dialog")?.querySelector(".request-error")?.remove();
  });
})();
