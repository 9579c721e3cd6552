/* Typesets every .math element with KaTeX (its text is the LaTeX source; data-fallback a
   second source tried when the first cannot be typeset) and wires the failure filter.
   Formulas inside a collapsed <details> are typeset when it is first opened.
   Sets body[data-render-ms] to the time typesetting the visible formulas took. */
(function () {
  "use strict";
  var start = performance.now();
  var options = { displayMode: true, throwOnError: true, strict: "ignore", trust: false };
  function typeset(el) {
    if (el.hasAttribute("data-typeset")) return;
    el.setAttribute("data-typeset", "");
    var choices = [el.textContent];
    if (el.hasAttribute("data-fallback")) choices.push(el.getAttribute("data-fallback"));
    for (var i = 0; i < choices.length; i++) {
      try {
        katex.render(choices[i], el, options);
        el.setAttribute("aria-label", choices[i]);
        return;
      } catch (err) { /* try the next source */ }
    }
    options.throwOnError = false;  /* shows the error in place, as a .katex-error element */
    katex.render(choices[0], el, options);
    options.throwOnError = true;
  }
  function typesetShown(root) {
    root.querySelectorAll(".math").forEach(function (el) {
      if (!el.closest("details:not([open])")) typeset(el);
    });
  }
  typesetShown(document);
  document.querySelectorAll("details").forEach(function (d) {
    d.addEventListener("toggle", function () { if (d.open) typesetShown(d); });
  });
  var box = document.getElementById("only-failures");
  box.parentNode.hidden = false;
  box.addEventListener("change", function () {
    document.body.classList.toggle("only-failures", box.checked);
  });
  document.body.setAttribute("data-render-ms", (performance.now() - start).toFixed(1));
})();
