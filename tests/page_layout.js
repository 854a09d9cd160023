// Text on a Streamlit page that collides or is cut (the real-browser layout test; Plotly's own figures are
// checked from inside by plotly_layout.js). Every visible text node of the page's HTML (titles, captions,
// labels, buttons, alerts, badges) is boxed line by line with a Range; two boxes of different elements must
// not overlap, no text may lie on a Plotly figure, and no element may cut its text with an ellipsis.
() => {
  const main = document.querySelector('[data-testid="stAppViewContainer"]') || document.body;
  const boxOf = (r) => ({x0: r.left, y0: r.top, x1: r.right, y1: r.bottom});
  const overlap = (a, b, pad) => Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0) > pad && Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0) > pad;
  const visible = (el) => {
    // checkVisibility: false inside a closed <details> (a collapsed expander), which still has layout boxes
    if (el.checkVisibility && !el.checkVisibility({opacityProperty: true, visibilityProperty: true})) return false;
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden' || Number(s.opacity) === 0) return false;
    }
    return true;
  };
  // text we do not own or cannot judge: Plotly (plotly_layout.js), the data grid (a canvas), tooltips, hidden
  // accessibility text and the text inside input boxes
  const skip = (el) => el.closest('svg, .js-plotly-plot, [data-testid="stDataFrame"], [data-testid="stDataFrameResizable"], ' +
      '[role="tooltip"], [data-testid="stTooltipContent"], .sr-only, input, textarea, [data-baseweb="select"], ' +
      '[data-testid="stHeader"], [data-testid="stToolbar"], iframe');
  // what of a box its ancestors let through (a collapsed expander clips its content to nothing)
  const clipped = (el, b) => {
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
      const c = boxOf(e.getBoundingClientRect());
      b = {x0: Math.max(b.x0, c.x0), y0: Math.max(b.y0, c.y0), x1: Math.min(b.x1, c.x1), y1: Math.min(b.y1, c.y1)};
      if (b.x1 - b.x0 < 2 || b.y1 - b.y0 < 2) return null;
    }
    return b;
  };
  const items = [];
  const add = (el, text, r) => {
    const b = clipped(el, boxOf(r));
    if (b && r.width > 1 && r.height > 1) items.push({el, text: text.slice(0, 60), ...b});
  };
  // a formula (KaTeX) is one box: its glyphs overlap by design (the hat over J)
  main.querySelectorAll('.katex-html').forEach(el => { if (!skip(el) && visible(el)) add(el, el.textContent, el.getBoundingClientRect()); });
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, text = node.textContent.trim(), el = node.parentElement;
    if (!text || !el || skip(el) || el.closest('.katex') || !visible(el) || el.clientWidth === 1) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) add(el, text, r);
  }
  const problems = [];
  for (let i = 0; i < items.length; i++)
    for (let j = i + 1; j < items.length; j++) {
      const a = items[i], b = items[j];
      if (a.el === b.el || a.el.contains(b.el) || b.el.contains(a.el)) continue;
      if (overlap(a, b, 2)) problems.push(`"${a.text}" overlaps "${b.text}"`);
    }
  const figures = [...document.querySelectorAll('.js-plotly-plot')].map(p => boxOf(p.getBoundingClientRect()))
      .filter(f => f.x1 - f.x0 > 10);
  for (const a of items)
    for (const f of figures) if (overlap(a, f, 2)) { problems.push(`"${a.text}" lies on a figure`); break; }
  // an element that cuts its own text: an ellipsis (or a hidden overflow) on a box narrower than its text
  main.querySelectorAll('*').forEach(el => {
    if (skip(el) || el.closest('.katex') || !el.textContent.trim() || !visible(el) || el.clientWidth <= 1) return;
    if (!clipped(el, boxOf(el.getBoundingClientRect()))) return;
    const s = getComputedStyle(el);
    const clips = s.textOverflow === 'ellipsis' || (s.overflowX === 'hidden' && s.whiteSpace === 'nowrap');
    if (clips && el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0)
      problems.push(`"${el.textContent.trim().slice(0, 60)}" is cut (${el.clientWidth} of ${el.scrollWidth} px shown)`);
  });
  return [...new Set(problems)];
}
