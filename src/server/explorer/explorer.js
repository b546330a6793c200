// Filters a list as one types (the lists are whole without it).
"use strict";
document.querySelectorAll("input.filter").forEach(function (input) {
  var list = document.getElementById(input.dataset.list);
  if (!list) return;
  input.hidden = false;
  input.addEventListener("input", function () {
    var q = input.value.trim().toLowerCase();
    list.querySelectorAll("li").forEach(function (li) {
      li.hidden = q !== "" && (li.dataset.name || "").toLowerCase().indexOf(q) < 0;
    });
  });
});
