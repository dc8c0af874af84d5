// lockstep dashboard: the matrix is one tab stop; arrow keys, Home and End move between cells,
// Enter opens a cell's directives (a plain link), Escape goes back to the cell.
"use strict";
(function () {
  const matrix = document.querySelector("table.matrix");
  if (!matrix) return;
  const cells = Array.from(matrix.querySelectorAll("a.cell"));
  const columns = Number(matrix.dataset.columns) || 1;
  const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns };

  function focusCell(index) {
    cells.forEach(function (cell, i) { cell.tabIndex = i === index ? 0 : -1; });
    cells[index].focus();
  }

  cells.forEach(function (cell, i) { cell.tabIndex = i === 0 ? 0 : -1; });
  matrix.addEventListener("keydown", function (event) {
    const at = cells.indexOf(document.activeElement);
    if (at < 0) return;
    const rowStart = at - (at % columns);
    let to = at + (moves[event.key] || 0);
    if (event.key === "Home") to = rowStart;
    if (event.key === "End") to = Math.min(rowStart + columns, cells.length) - 1;
    if (to === at || to < 0 || to >= cells.length) return;
    event.preventDefault();
    focusCell(to);
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
    if (index >= 0) focusCell(index);
  });
})();
