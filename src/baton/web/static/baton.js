// Live updates: the server says "update" over server-sent events; the page re-fetches the
// fragments it shows (data-fragment) and highlights rows that are new. A "clock" event
// every two seconds moves the header's clock and inbox badge; when it stops coming, the
// header says the page is stale.
// Times: each <time datetime> shows UTC, or the viewer's own zone when they pick "local"
// (kept in this browser).
const batonTimes = (function () {
  const key = "baton.tz";
  const toggle = document.getElementById("tz-toggle");
  const local = () => localStorage.getItem(key) === "local";
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  function apply(root) {
    for (const el of root.querySelectorAll("time[datetime]")) {
      if (!el.dataset.utc) el.dataset.utc = el.textContent;
      if (!local()) { el.textContent = el.dataset.utc; continue; }
      const at = new Date(el.getAttribute("datetime"));
      const opts = {weekday: "short", day: "2-digit", month: "short", hour: "2-digit",
                    minute: "2-digit", hour12: false, timeZoneName: "short"};
      if (el.hasAttribute("data-seconds")) opts.second = "2-digit";
      el.textContent = new Intl.DateTimeFormat("en-GB", opts).format(at).replace(/,/g, "");
      el.title = el.dataset.utc + " (" + zone + ")";
    }
    if (toggle) toggle.textContent = local() ? "times: local (" + zone + ")" : "times: UTC";
  }
  if (toggle) toggle.addEventListener("click", () => {
    localStorage.setItem(key, local() ? "utc" : "local");
    apply(document);
  });
  apply(document);
  return apply;
})();

(function () {
  if (document.body.dataset.stream !== "on" || !window.EventSource) return;
  const parts = document.querySelectorAll("[data-fragment]");
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
          const res = await fetch(el.dataset.src || ("/fragments/" + el.dataset.fragment),
                                  {headers: {"Accept": "text/html"}});
          if (!res.ok) continue;
          el.innerHTML = await res.text();
          if (window.batonCharts) window.batonCharts(el);
          batonTimes(el);
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

  const state = document.getElementById("live-state");
  const clock = document.getElementById("clock");
  const badge = document.getElementById("inbox-count");
  const STALE_MS = 6000;  // three clock events missed
  let last = Date.now();
  function setState(live) {
    if (!state) return;
    const want = live ? "live" : "stale";
    if (state.dataset.state === want) return;
    state.dataset.state = want;
    state.textContent = live ? "live" : "stale";
    state.title = live ? "updates arrive from the server"
      : "no contact with the server since " + new Date(last).toLocaleTimeString();
    const banner = document.getElementById("stale-banner");
    const since = document.getElementById("stale-since");
    if (since) since.textContent = new Date(last).toLocaleTimeString();
    if (banner) banner.hidden = live;
    document.body.classList.toggle("stale", !live);
  }
  const fmt = new Intl.DateTimeFormat("en-GB", {weekday: "short", hour: "2-digit",
                                                 minute: "2-digit", hour12: false, timeZone: "UTC"});
  function onClock(ev) {
    const data = JSON.parse(ev.data);
    last = Date.now();
    setState(true);
    if (clock) clock.textContent = fmt.format(new Date(data.now)).replace(",", "");
    if (badge) { badge.textContent = String(data.inbox); badge.hidden = !data.inbox; }
  }
  const source = new EventSource("/stream");
  source.addEventListener("update", refresh);
  source.addEventListener("clock", onClock);
  source.addEventListener("error", () => { if (source.readyState !== EventSource.OPEN) setState(false); });
  setInterval(() => { if (Date.now() - last > STALE_MS) setState(false); }, 1000);
})();
