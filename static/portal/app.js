// Small behaviours without inline scripts (the Content-Security-Policy forbids them).
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const source = document.querySelector(copy.dataset.copy);
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim()).then(() => {
        copy.textContent = "Copied";
      });
    }
  }
  const toggle = event.target.closest(".menu-toggle");
  if (toggle) {
    const open = toggle.closest("nav").classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }
});

// A button marked data-needs-pick="<name>" is enabled only while a checkbox of that name is
// ticked (e.g. "Ping selected" on the device list). Without JavaScript the server says so.
function syncPickButtons() {
  document.querySelectorAll("[data-needs-pick]").forEach((button) => {
    const name = button.dataset.needsPick;
    button.disabled = !document.querySelector(`input[type=checkbox][name="${name}"]:checked`);
  });
}
document.addEventListener("change", syncPickButtons);
document.addEventListener("DOMContentLoaded", syncPickButtons);
document.addEventListener("htmx:afterSettle", syncPickButtons);
