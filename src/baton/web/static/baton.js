// Live updates: the server says "update" over server-sent events; the page re-fetches the
// fragments it shows (data-fragment) and highlights rows that are new.
(function () {
  const parts = document.querySelectorAll("[data-fragment]");
  if (!parts.length || !window.EventSource) return;
  let busy = false, again = false;
  const firstCells = el => new Set([...el.querySelectorAll("tbody tr td:first-child")].map(td => td.textContent));
  async function refresh() {
    if (busy) { again = true; return; }  // run once more when this refresh is done
    busy = true;
    const seen = new Map([...parts].map(el => [el, firstCells(el)]));
    try {
      do {
        again = false;
        for (const el of parts) {
        const before = seen.get(el);
        const res = await fetch(el.dataset.src || ("/fragments/" + el.dataset.fragment), {headers: {"Accept": "text/html"}});
        if (!res.ok) continue;
        el.innerHTML = await res.text();
        if (before.size) {
          for (const tr of el.querySelectorAll("tbody tr")) {
            const first = tr.querySelector("td");
            if (first && !before.has(first.textContent)) tr.classList.add("new");
          }
        }
        }
      } while (again);
    } finally { busy = false; }
  }
  const source = new EventSource("/stream");
  source.addEventListener("update", refresh);
})();
