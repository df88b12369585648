// Behaviour hooked through data-* attributes; htmx does the rest.
(() => {
  // Dialogs: a swapped-in dialog[data-modal] opens as a modal once htmx has wired its content; closing
  // removes it.
  document.addEventListener("htmx:afterSettle", () => {
    document.querySelectorAll("dialog[data-modal]:not([open])").forEach((d) => {
      d.showModal();
      d.addEventListener("close", () => d.remove());
    });
  });
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
