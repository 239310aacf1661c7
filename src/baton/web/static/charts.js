// Charts (uPlot) and dependency graphs (dagre layout, drawn as SVG) from the JSON in
// data-chart / data-graph attributes. Colours follow the verdict pills of the legend.
(function () {
  const COLORS = {autonomous: "#38a169", approval: "#d69e2e", denied: "#e53e3e", none: "#a0aec0"};
  const NAMES = {autonomous: "autonomous", approval: "needs approval", denied: "denied",
                 none: "no verdict"};
  const FONT = "12px system-ui, sans-serif";
  const axis = label => ({label, font: FONT, labelFont: "bold 12px system-ui, sans-serif",
                          stroke: "#4a5568", grid: {stroke: "#edf2f7"}, ticks: {stroke: "#cbd5e0"}});

  // A legend shows each series' value under the cursor and, away from the bars, its total
  // over the chart; a series with no decisions at all is left out (no empty "denied:").
  function stacked(el, d) {
    const order = ["autonomous", "approval", "denied", "none"].filter(
      k => d.series[k].some(v => v > 0));
    if (!order.length) { el.textContent = "No decisions in the last 24 h."; el.classList.add("muted"); return null; }
    const sums = [];
    let run = d.x.map(() => 0);
    for (const k of order) { run = run.map((v, i) => v + d.series[k][i]); sums.push(run); }
    const data = [d.x];
    const series = [{label: "hour (UTC)", value: (u, v) => v == null ? "last 24 h" :
      uPlot.tzDate(new Date(v * 1e3), "UTC").toTimeString().slice(0, 5)}];
    for (let j = order.length - 1; j >= 0; j--) {  // tallest first, so each shows its own band
      const k = order[j];
      const total = d.series[k].reduce((a, b) => a + b, 0);
      data.push(sums[j]);
      series.push({label: NAMES[k], stroke: COLORS[k], fill: COLORS[k], width: 0,
                   paths: uPlot.paths.bars({size: [0.8, 40]}), points: {show: false},
                   value: (u, v, si, i) => i == null ? String(total) : String(d.series[k][i])});
    }
    return new uPlot({width: el.clientWidth || 560, height: 240, series,
      tzDate: ts => uPlot.tzDate(new Date(ts * 1e3), "UTC"),
      scales: {x: {time: true}, y: {range: (u, min, max) => [0, Math.max(4, max)]}},
      axes: [Object.assign(axis("hour (UTC)"), {values: "{HH}:00"}), axis(d.y)],
      legend: {live: true}}, data, el);
  }

  function histogram(el, d) {
    if (!d.counts.length) { el.textContent = "No decisions yet."; el.classList.add("muted"); return null; }
    const idx = d.labels.map((_, i) => i);
    const edges = d.labels.map(l => parseFloat(l.slice(1)));
    const at = v => { const i = edges.findIndex(e => v <= e); return i < 0 ? edges.length - 1 : i; };
    const marks = Object.entries(d.marks);
    const total = d.counts.reduce((a, b) => a + b, 0);
    const byBucket = new Map();  // marks in one bucket share one line and one label
    for (const [name, v] of marks) {
      const bucket = at(v);
      byBucket.set(bucket, [...(byBucket.get(bucket) || []), name]);
    }
    const lines = [...byBucket.entries()].map(([bucket, names]) => [bucket, names.join(" · ")]);
    el.dataset.markLines = lines.map(([, label]) => label).join(" | ");
    const plot = new uPlot({width: el.clientWidth || 560, height: 240,
      series: [{label: "bucket (ms)", value: (u, v) => v == null ? "all" : d.labels[v] + " ms"},
               {label: "decisions", stroke: "#2b6cb0", fill: "#4299e1", width: 0,
                paths: uPlot.paths.bars({size: [0.85, 60]}), points: {show: false},
                value: (u, v, si, i) => i == null ? String(total) : String(d.counts[i])}],
      scales: {x: {time: false, range: [-0.5, idx.length - 0.5]},
               y: {range: (u, min, max) => [0, Math.max(4, max)]}},
      axes: [Object.assign(axis("engine latency per decision, ms (upper bucket edge)"),
                           {splits: () => idx, values: (u, s) => s.map(i =>  // many buckets: every other label
                             idx.length > 10 && i % 2 && i !== idx.length - 1 ? "" : d.labels[i] || "")}),
             axis(d.y)],
      hooks: {draw: [u => {
        const ctx = u.ctx;
        ctx.save();
        ctx.font = "bold " + Math.round(11 * devicePixelRatio) + "px system-ui";
        ctx.fillStyle = ctx.strokeStyle = "#742a2a";
        ctx.setLineDash([4, 4]);
        lines.forEach(([bucket, label], n) => {
          const x = u.valToPos(bucket, "x", true);
          ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
          ctx.fillText(label, x + 3, u.bbox.top + (12 + 13 * n) * devicePixelRatio);
        });
        ctx.restore();
      }]}}, [idx, d.counts], el);
    const note = document.createElement("p");
    note.className = "small muted chart-note";
    note.textContent = marks.map(([k, v]) => k + " " + v + " ms").join(" · ") + " · slowest " + d.max + " ms";
    el.appendChild(note);
    return plot;
  }

  function graph(el, g) {
    const NS = "http://www.w3.org/2000/svg";
    const layout = new dagre.graphlib.Graph();
    layout.setGraph({rankdir: "LR", nodesep: 6, ranksep: 70, marginx: 8, marginy: 8});
    layout.setDefaultEdgeLabel(() => ({}));
    for (const n of g.nodes) layout.setNode(n.id, {width: 7 * n.id.length + 16, height: 20, n});
    for (const [a, b] of g.edges) if (layout.hasNode(a) && layout.hasNode(b)) layout.setEdge(b, a);
    dagre.layout(layout);
    const size = layout.graph();
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${Math.ceil(size.width)} ${Math.ceil(size.height)}`);
    svg.setAttribute("width", Math.ceil(size.width));
    svg.setAttribute("class", "graph");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "service dependency graph: what a service depends on is to its left");
    const add = (parent, tag, attrs) => {
      const e = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      parent.appendChild(e); return e;
    };
    for (const e of layout.edges()) {  // edges first: nodes are drawn over them
      const pts = layout.edge(e).points.map(p => p.x + "," + p.y).join(" ");
      const hot = layout.node(e.v).n.hot || layout.node(e.w).n.hot;
      add(svg, "polyline", {points: pts, class: hot ? "edge hot" : "edge", fill: "none"});
    }
    for (const id of layout.nodes()) {
      const v = layout.node(id);
      const box = add(svg, "g", {class: "node" + (v.n.hot ? " hot" : "") + (v.n.root ? " root" : "")});
      add(box, "rect", {x: v.x - v.width / 2, y: v.y - v.height / 2, width: v.width, height: v.height, rx: 4});
      const t = add(box, "text", {x: v.x, y: v.y + 4, "text-anchor": "middle"});
      t.textContent = id;
      add(box, "title", {}).textContent = `${id}: tier ${v.n.tier}, team ${v.n.team}`;
    }
    el.textContent = "";
    el.appendChild(svg);
  }

  function draw(root) {
    for (const el of root.querySelectorAll("[data-chart]")) {
      if (el._plot) el._plot.destroy();
      el.textContent = "";
      const d = JSON.parse(el.dataset.chart);
      el._plot = d.kind === "stacked" ? stacked(el, d) : histogram(el, d);
    }
    for (const el of root.querySelectorAll("[data-graph]")) graph(el, JSON.parse(el.dataset.graph));
  }
  window.batonCharts = draw;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => draw(document));
  else draw(document);
})();
