// guanwei's own script (htmx does the rest). No inline scripts or handlers anywhere in the pages:
// everything is wired here by delegation, so a Content-Security-Policy without 'unsafe-inline'
// holds, and elements htmx swaps in (the bell) work without being wired again.

const HEADER_MENUS = ".topbar details";

function setNav(toggle, open) {
  const nav = document.getElementById(toggle.getAttribute("aria-controls"));
  toggle.setAttribute("aria-expanded", String(open));
  nav.classList.toggle("open", open);
}

function closeMenu(menu, restoreFocus) {
  menu.open = false;
  if (restoreFocus) menu.querySelector("summary").focus();
}

document.addEventListener("click", (event) => {
  // the phone navigation toggle
  const toggle = event.target.closest("[data-nav-toggle]");
  if (toggle) setNav(toggle, toggle.getAttribute("aria-expanded") !== "true");
  // a click anywhere else closes an open header menu (one menu open at a time)
  for (const menu of document.querySelectorAll(`${HEADER_MENUS}[open]`)) {
    if (!menu.contains(event.target)) closeMenu(menu, false);
  }
});

// Esc closes the open header menu (or the phone navigation) and puts focus back on its button.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || event.defaultPrevented) return;
  const menu = document.querySelector(`${HEADER_MENUS}[open]`);
  if (menu) {
    closeMenu(menu, menu.contains(document.activeElement));
    event.preventDefault();
    return;
  }
  const toggle = document.querySelector("[data-nav-toggle][aria-expanded='true']");
  if (toggle) {
    setNav(toggle, false);
    toggle.focus();
    event.preventDefault();
  }
});

// Tabbing out of a header menu closes it, so it never hangs open over the page.
document.addEventListener("focusout", (event) => {
  const menu = event.target.closest(`${HEADER_MENUS}[open]`);
  if (menu && event.relatedTarget && !menu.contains(event.relatedTarget)) closeMenu(menu, false);
});

// A one-time secret (a new token, an invitation link) is selected whole when focused.
document.addEventListener("focusin", (event) => {
  if (event.target.matches("input.secret[readonly]")) event.target.select();
});

// The bell refreshes every minute, but not in a hidden tab nor while its list is open (a
// refresh would close it under the reader's eyes). Here rather than as an hx-trigger filter:
// filters need eval, which the Content-Security-Policy forbids.
document.addEventListener("htmx:beforeRequest", (event) => {
  const elt = event.detail.elt;
  if (elt.matches && elt.matches("[data-refresh-when-idle]") && (document.hidden || elt.open)) {
    event.preventDefault();
  }
});
