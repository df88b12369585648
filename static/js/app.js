// Behaviour hooked through data-* attributes; htmx does the rest.
document.addEventListener("htmx:afterSwap", () => {
  document.querySelectorAll("dialog[data-modal]:not([open])").forEach((d) => {
    d.showModal();
    d.addEventListener("close", () => d.remove());
  });
});
document.body?.addEventListener("closeModal", () => {
  document.querySelectorAll("dialog[open]").forEach((d) => d.close());
});
