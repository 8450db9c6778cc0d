// Unrolled: give the theme's controls accessible names that match what they show, and the
// bibliography a list structure assistive technology accepts.
// - The search button says "Search Ctrl+K" but is labelled "Search" only; the colour-mode
//   button is labelled "Color mode" but its icons carry titles of their own ("Light", "Dark");
//   a hidden cell's "Show code cell source" toggle is labelled "Toggle hidden content".
//   Screen-reader and voice-control users need the label to contain the visible text.
// - sphinxcontrib-bibtex marks its list role="list" and its entries with the deprecated
//   doc-biblioentry role, which is not a list item.
function unrolledLabelControls() {
  document.querySelectorAll("details > summary[aria-label]").forEach((summary) => {
    summary.removeAttribute("aria-label"); // named by its visible text
  });
  document.querySelectorAll(".citation-list > .citation").forEach((entry) => {
    entry.setAttribute("role", "listitem");
  });
  document.querySelectorAll("button.search-button-field").forEach((button) => {
    button.removeAttribute("aria-label"); // its name is then its visible text
  });
  document.querySelectorAll("button.theme-switch-button > *").forEach((icon) => {
    icon.setAttribute("aria-hidden", "true"); // the button's label speaks for the icons
    icon.removeAttribute("title");
  });
}
document.addEventListener("DOMContentLoaded", unrolledLabelControls);
// Font Awesome swaps the <i> icons for <svg> after load, and the theme may redraw its buttons:
// label whatever appears in the header.
window.addEventListener("load", () => {
  unrolledLabelControls();
  const header = document.querySelector(".bd-header") || document.body;
  new MutationObserver(unrolledLabelControls).observe(header, { childList: true, subtree: true });
});
