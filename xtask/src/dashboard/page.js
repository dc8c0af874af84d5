// lockstep dashboard: the matrix is one tab stop; arrow keys, Home and End move between cells,
// Enter opens a cell's directives (a plain link), Escape goes back to the cell.
"use strict";
(function () {
  const matrix = document.querySelector("table.matrix");
  if (!matrix) return;
  const cells = Array.from(matrix.querySelectorAll("a.cell"));
  const columns = Number(matrix.dataset.columns) || 1;
  const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns };

  function rove(index) {
    cells.forEach(function (cell, i) { cell.tabIndex = i === index ? 0 : -1; });
  }

  rove(0);
  // Tab comes back to the cell used last, however it was reached.
  matrix.addEventListener("focusin", function (event) {
    const at = cells.indexOf(event.target);
    if (at >= 0) rove(at);
  });
  matrix.addEventListener("keydown", function (event) {
    const at = cells.indexOf(document.activeElement);
    if (at < 0) return;
    const rowStart = at - (at % columns);
    let to = at + (moves[event.key] || 0);
    if (event.key === "Home") to = rowStart;
    if (event.key === "End") to = Math.min(rowStart + columns, cells.length) - 1;
    if (to === at || to < 0 || to >= cells.length) return;
    event.preventDefault();
    cells[to].focus();
  });

  // The open drill-down is the URL's #fragment: it survives a reload and can be linked to.
  function showTarget() {
    const id = location.hash.slice(1);
    const detail = id ? document.getElementById(id) : null;
    cells.forEach(function (cell) {
      if (cell.getAttribute("href") === "#" + id) cell.setAttribute("aria-current", "true");
      else cell.removeAttribute("aria-current");
    });
    if (detail && detail.classList.contains("detail")) detail.focus({ preventScroll: true });
  }
  window.addEventListener("hashchange", showTarget);
  showTarget();

  document.addEventListener("keydown", function (event) {
    const detail = event.target.closest && event.target.closest(".detail");
    if (event.key !== "Escape" || !detail) return;
    const index = cells.indexOf(document.getElementById(detail.dataset.cell));
    location.hash = detail.dataset.cell;
    if (index >= 0) cells[index].focus();
  });
})();
