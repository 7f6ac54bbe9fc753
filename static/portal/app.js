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
document.addEventListener("htmx:historyRestore", syncPickButtons);

// htmx keeps each page for the back button as HTML, taken just before the next URL is pushed.
// HTML holds attributes, not what was typed, picked or ticked since the page loaded, and by then
// the controls already hold the next state's values: going back showed rows filtered by
// "Clinic" under an empty search box, and the next filter change silently dropped "Clinic".
// So whenever htmx records a URL, the controls' values (the ones that made it) are written into
// their attributes, where the snapshot of that URL will find them. Never secrets: password
// inputs are left alone, as the snapshot lives in localStorage.
function recordControls() {
  document.body.querySelectorAll("input, select, textarea").forEach((control) => {
    if (["password", "hidden", "file"].includes(control.type)) return;
    if (control.type === "checkbox" || control.type === "radio") {
      control.toggleAttribute("checked", control.checked);
    } else if (control.tagName === "SELECT") {
      control.querySelectorAll("option").forEach((o) => o.toggleAttribute("selected", o.selected));
    } else if (control.tagName === "TEXTAREA") {
      control.textContent = control.value;
    } else {
      control.setAttribute("value", control.value);
    }
  });
}
document.addEventListener("htmx:pushedIntoHistory", recordControls);
document.addEventListener("htmx:replacedInHistory", recordControls);
