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

  // Short confirmations from the server (HX-Trigger: showMessage).
  document.body.addEventListener("showMessage", (e) => {
    const box = document.getElementById("toasts");
    const toast = document.createElement("div");
    toast.className = "toast";
    toast.textContent = e.detail.message;
    box.appendChild(toast);
    setTimeout(() => toast.remove(), 6000);
  });
})();
