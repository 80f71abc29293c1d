(function () {
  "use strict";
  var filters = document.getElementById("filters");
  var boxes = filters.querySelectorAll("input[type=checkbox]");
  var tag = document.getElementById("tag");
  var q = document.getElementById("q");
  var shown = document.getElementById("shown");
  var items = document.querySelectorAll(".scenario");
  function apply() {
    var want = {};
    boxes.forEach(function (b) { want[b.value] = b.checked; });
    var t = tag.value, text = q.value.trim().toLowerCase(), n = 0;
    items.forEach(function (el) {
      var ok = want[el.dataset.status] &&
        (t === "" || (" " + el.dataset.tags + " ").indexOf(" " + t + " ") >= 0) &&
        (text === "" || el.dataset.name.indexOf(text) >= 0);
      el.hidden = !ok;
      if (ok) { n++; }
    });
    shown.textContent = "Showing " + n + " of " + items.length + " scenarios";
  }
  boxes.forEach(function (b) { b.addEventListener("change", apply); });
  tag.addEventListener("change", apply);
  q.addEventListener("input", apply);
  function openAll(open) {
    items.forEach(function (el) { if (!el.hidden) { el.open = open; } });
  }
  document.getElementById("expand").addEventListener("click", function () { openAll(true); });
  document.getElementById("collapse").addEventListener("click", function () { openAll(false); });
  filters.hidden = false;
  apply();
})();
