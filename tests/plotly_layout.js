// Boxes of every Plotly figure on the page and the pairs that collide (the real-browser test's check).
// Titles, subtitles, subplot titles and other annotations, legends, axis titles, tick labels and colour
// bars must not overlap each other; none but data annotations may overlap a plot area; and every one
// must lie inside its figure (a title cut at the edge is not whole).
() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return {x0: r.left, y0: r.top, x1: r.right, y1: r.bottom}; };
  const overlap = (a, b, pad) => Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0) > pad && Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0) > pad;
  const report = [];
  document.querySelectorAll('.js-plotly-plot').forEach((plot, fi) => {
    const frame = box(plot);
    if (frame.x1 - frame.x0 < 10) return;  // hidden (another tab)
    if (plot.checkVisibility && !plot.checkVisibility()) return;  // inside a collapsed expander
    const items = [];
    const add = (kind, el, text) => { const b = box(el); if (b.x1 - b.x0 > 0 && b.y1 - b.y0 > 0) items.push({kind, text: (text || el.textContent || '').slice(0, 60), ...b}); };
    plot.querySelectorAll('.g-gtitle .gtitle, .g-gtitle .gtitle-subtitle').forEach(el => add('title', el));
    plot.querySelectorAll('.infolayer .legend').forEach(el => add('legend', el, 'legend'));
    plot.querySelectorAll('.infolayer .colorbar').forEach(el => add('colorbar', el, 'colorbar'));
    plot.querySelectorAll('[class^="g-x"][class$="title"] text, [class^="g-y"][class$="title"] text').forEach(el => add('axis title', el));
    plot.querySelectorAll('.xaxislayer-above, .yaxislayer-above').forEach(el => add('ticks', el, 'tick labels'));
    const full = plot._fullLayout || {};
    const subplotTitles = new Set((full.annotations || []).filter(a => a.xref === 'paper' && a.yref === 'paper').map(a => a.text));
    plot.querySelectorAll('.annotation').forEach(el => {
      const text = el.textContent;
      add(subplotTitles.has(text) ? 'subplot title' : 'annotation', el, text);
    });
    const areas = [...plot.querySelectorAll('.draglayer .nsewdrag')].map(box);
    const problems = [];
    for (let i = 0; i < items.length; i++) {
      const a = items[i];
      if (a.x0 < frame.x0 - 1 || a.x1 > frame.x1 + 1 || a.y0 < frame.y0 - 1 || a.y1 > frame.y1 + 1)
        problems.push(`${a.kind} "${a.text}" is cut by the figure's edge`);
      if (a.kind !== 'annotation' && a.kind !== 'ticks')
        for (const area of areas) if (overlap(a, area, 2)) { problems.push(`${a.kind} "${a.text}" overlaps a plot area`); break; }
      for (let j = i + 1; j < items.length; j++) {
        const b = items[j];
        if (a.kind === 'ticks' && b.kind === 'ticks') continue;  // axes meet at the corners
        if (overlap(a, b, 2)) problems.push(`${a.kind} "${a.text}" overlaps ${b.kind} "${b.text}"`);
      }
    }
    report.push({figure: fi, title: (full.title && full.title.text) || '', items: items.length, problems});
  });
  return report;
}
