(function () {
  "use strict";
  var table = document.getElementById("board");
  if (!table) { document.body.setAttribute("data-ready", "1"); return; }
  var tbody = table.tBodies[0];
  var headers = {};
  var current = { key: null, dir: null };

  function value(row, index, type) {
    var raw = row.cells[index].getAttribute("data-v");
    if (raw === null || raw === "") { return null; }
    return type === "num" ? parseFloat(raw) : raw;
  }

  function sortBy(key, dir) {
    var th = headers[key];
    if (!th) { return; }
    var index = th.cellIndex;
    var type = th.getAttribute("data-type");
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {
      var x = value(a, index, type), y = value(b, index, type);
      if (x === null || y === null) { return (x === null) - (y === null); }
      var c = type === "num" ? x - y : (x < y ? -1 : (x > y ? 1 : 0));
      return dir === "asc" ? c : -c;
    });
    rows.forEach(function (row, i) {
      row.cells[0].textContent = String(i + 1);
      tbody.appendChild(row);
    });
    Object.keys(headers).forEach(function (k) { headers[k].removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending");
    current.key = key;
    current.dir = dir;
    table.setAttribute("data-sorted", key + ":" + dir);
  }

  function onClick(key) {
    var th = headers[key];
    var dir = th.getAttribute("data-type") === "text" ? "asc" : "desc";
    if (current.key === key) { dir = current.dir === "asc" ? "desc" : "asc"; }
    sortBy(key, dir);
  }

  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    var key = th.getAttribute("data-key");
    if (!key) { return; }
    headers[key] = th;
    th.addEventListener("click", function () { onClick(key); });
    th.setAttribute("title", "Sort by " + th.textContent);
  });
  var initial = table.getAttribute("data-sorted").split(":");
  current.key = initial[0];
  current.dir = initial[1];

  // The fragment is honoured so a page can be opened pre-sorted (and so tests can drive it):
  // #sort=cost&dir=asc sorts directly; #click=overall,overall clicks those headers in turn.
  var params = {};
  location.hash.replace(/^#/, "").split("&").forEach(function (part) {
    var eq = part.indexOf("=");
    if (eq > 0) { params[decodeURIComponent(part.slice(0, eq))] = decodeURIComponent(part.slice(eq + 1)); }
  });
  if (params.sort && headers[params.sort]) { sortBy(params.sort, params.dir === "asc" ? "asc" : "desc"); }
  if (params.click) {
    params.click.split(",").forEach(function (key) { if (headers[key]) { headers[key].click(); } });
  }
  document.body.setAttribute("data-ready", "1");
})();
