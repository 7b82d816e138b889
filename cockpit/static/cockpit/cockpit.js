// Progressive enhancement only: every page works without this file.
document.addEventListener("click", (event) => {
  // Close the organization switcher when clicking elsewhere.
  document.querySelectorAll("details.menu[open]").forEach((menu) => {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  });
});

// --- Shell: the colour theme and the narrow screens' menu (templates/base.html, templates/_head_theme.html) -----
// The choice (light, dark, or the system's) is kept in localStorage; _head_theme.html applies it before the first
// paint, this keeps the top bar's buttons in step with it.
(() => {
  const KEY = "cockpit-theme";
  const root = document.documentElement;
  const stored = () => {
    try { return localStorage.getItem(KEY) || "system"; } catch (error) { return "system"; }
  };
  const apply = (choice) => {
    if (choice === "light" || choice === "dark") root.dataset.theme = choice;
    else delete root.dataset.theme;
    document.querySelectorAll("[data-theme-choice]").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.themeChoice === choice));
    });
  };
  const choose = (choice) => {
    try {
      if (choice === "light" || choice === "dark") localStorage.setItem(KEY, choice);
      else localStorage.removeItem(KEY);
    } catch (error) { /* private mode: the choice lasts for this page */ }
    apply(choice);
  };
  document.addEventListener("DOMContentLoaded", () => {
    apply(stored());
    document.querySelectorAll("[data-theme-choice]").forEach((button) => {
      button.addEventListener("click", () => choose(button.dataset.themeChoice));
    });
    const toggle = document.getElementById("menu-toggle");
    if (toggle) {
      toggle.addEventListener("click", () => {
        const open = toggle.getAttribute("aria-expanded") !== "true";
        toggle.setAttribute("aria-expanded", String(open));
        toggle.closest(".topbar").classList.toggle("open", open);
      });
    }
  });
  // Another tab changed it.
  window.addEventListener("storage", (event) => { if (event.key === KEY) apply(stored()); });
})();
