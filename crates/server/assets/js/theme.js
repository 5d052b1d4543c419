// Runs before first paint so the page never flashes the wrong theme.
// The choice is stored per browser; without one the OS preference wins.
(function () {
  var saved = null;
  try { saved = localStorage.getItem("lambdascope-theme"); } catch (e) { /* storage disabled */ }
  var dark = saved ? saved === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
})();
