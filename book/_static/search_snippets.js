// Unrolled: search results quote the page's text, and the maths in it is TeX until MathJax
// runs, so a snippet would read "\(h_t = \tanh(\cdot)\)". Before Sphinx's search quotes a page,
// turn each formula into plain symbols ("h_t = tanh(·)") and leave display equations out.
const UNROLLED_SYMBOLS = {
  top: "ᵀ", odot: "⊙", sigma: "σ", tau: "τ", rho: "ρ", delta: "δ", varepsilon: "ε",
  epsilon: "ε", partial: "∂", cdot: "·", times: "×", le: "≤", leq: "≤", ge: "≥", geq: "≥",
  approx: "≈", to: "→", sum: "Σ", prod: "Π", infty: "∞", ldots: "…", dots: "…",
  mathbb: "", mathrm: "", mathsf: "", operatorname: "", text: "", left: "", right: "",
  big: "", Big: "", hat: "", tilde: "", textstyle: "", qquad: " ", quad: " ",
};

function unrolledPlainMaths(tex) {
  return tex
    .replace(/^\\\(|\\\)$/g, "")
    .replace(/\\\|/g, "‖")
    .replace(/\\([A-Za-z]+)/g, (all, name) => (name in UNROLLED_SYMBOLS ? UNROLLED_SYMBOLS[name] : name))
    .replace(/\\[,;!]/g, " ")
    .replace(/[{}]/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

function unrolledPlainSearchText() {
  if (typeof Search === "undefined" || Search.unrolledPlain) return;
  const quote = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll("div.math").forEach((el) => el.remove());
    page.querySelectorAll("span.math").forEach((el) => {
      el.textContent = unrolledPlainMaths(el.textContent);
    });
    return quote(page.documentElement.outerHTML, anchor);
  };
  Search.unrolledPlain = true;
}
unrolledPlainSearchText();
document.addEventListener("DOMContentLoaded", unrolledPlainSearchText);
