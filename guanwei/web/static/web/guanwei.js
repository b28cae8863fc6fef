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

// The composer: a suggestion (#话题# or @name from the account's history) replaces the partial
// word before the caret; the number of chosen images goes to the live checks (files are not
// uploaded on every keystroke).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-insert]");
  if (!button) return;
  const text = document.querySelector("[data-compose-text]");
  if (!text) return;
  const caret = text.selectionStart ?? text.value.length;
  const before = text.value.slice(0, caret).replace(/[#@][^\s#@]*$/, "");
  const insert = button.getAttribute("data-insert");
  text.value = before + insert + text.value.slice(caret);
  const at = before.length + insert.length;
  text.focus();
  text.setSelectionRange(at, at);
  text.dispatchEvent(new Event("input", { bubbles: true }));
});

document.addEventListener("change", (event) => {
  if (!event.target.matches("#compose-form input[type=file]")) return;
  const count = document.querySelector("[data-image-count]");
  if (count) count.value = String(event.target.files.length + Number(count.dataset.existing || 0));
});

// The calendar: drag a post to another day (htmx posts the new date; the post keeps its time of
// day). Without a mouse, the post's own page has the form to change its time.
document.addEventListener("dragstart", (event) => {
  const chip = event.target.closest && event.target.closest("[data-move-url]");
  if (!chip) return;
  event.dataTransfer.setData("text/plain", chip.id);
  event.dataTransfer.effectAllowed = "move";
});

document.addEventListener("dragover", (event) => {
  const day = event.target.closest && event.target.closest("[data-date]");
  if (day) {
    event.preventDefault();
    day.classList.add("drop-target");
  }
});

document.addEventListener("dragleave", (event) => {
  const day = event.target.closest && event.target.closest("[data-date]");
  if (day) day.classList.remove("drop-target");
});

document.addEventListener("drop", (event) => {
  const day = event.target.closest && event.target.closest("[data-date]");
  if (!day) return;
  event.preventDefault();
  day.classList.remove("drop-target");
  const chip = document.getElementById(event.dataTransfer.getData("text/plain"));
  if (!chip || !window.htmx) return;
  const posts = day.querySelector(".day-posts");
  const wanted = day.getAttribute("data-date");
  window.htmx
    .ajax("POST", chip.getAttribute("data-move-url"), {
      values: { date: wanted },
      source: chip,
      target: chip,
      swap: "outerHTML",
    })
    .then(() => {
      // only a chip the server answered for the new day moves there (a refusal leaves it put)
      const moved = document.getElementById(chip.id);
      if (moved && posts && moved.getAttribute("data-day") === wanted && moved.parentElement !== posts) {
        posts.appendChild(moved);
      }
    });
});

document.addEventListener("htmx:responseError", (event) => {
  if (event.detail.elt && event.detail.elt.matches && event.detail.elt.matches("[data-move-url]")) {
    window.alert(event.detail.xhr.responseText);
  }
});

// A form that deletes asks first: <form data-confirm="…">.
document.addEventListener("submit", (event) => {
  const form = event.target.closest && event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
});
