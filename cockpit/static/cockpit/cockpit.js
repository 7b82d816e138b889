// Progressive enhancement only: every page works without this file.
document.addEventListener("click", (event) => {
  // Close the organization switcher when clicking elsewhere.
  document.querySelectorAll("details.menu[open]").forEach((menu) => {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  });
});
