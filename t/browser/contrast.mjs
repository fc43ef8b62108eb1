// What the specs measure of the page's colours: WCAG 2's contrast ratio
// (1.4.3 for text, 4.5:1; 1.4.11 for what shows a control and its focus,
// 3:1) between the colours Chromium computes, and what lies next to each.
import assert from 'node:assert/strict';

// The contrast ratio of two colours as getComputedStyle gives them, rgb()
// or rgba(): the first laid over the second, which is opaque.
export function contrast(fg, bg) {
  const parse = (c) => {
    const m = c.match(/[\d.]+/g).map(Number);
    return { rgb: m.slice(0, 3), a: m.length > 3 ? m[3] : 1 };
  };
  const b = parse(bg).rgb;
  const f = parse(fg);
  const over = f.rgb.map((v, i) => v * f.a + b[i] * (1 - f.a));
  const lum = (rgb) => {
    const [r, g, bl] = rgb.map((v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(over), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

// In the page: the focused element's focus ring (its outline), and the
// colours next to it: what is painted just outside the ring and in the
// gap between the ring and the element (its outline-offset), on each
// side, where the window shows it.
function ringAndAround() {
  const a = document.activeElement;
  const s = getComputedStyle(a);
  const r = a.getBoundingClientRect();
  const width = parseFloat(s.outlineWidth), offset = parseFloat(s.outlineOffset);
  // The colour painted at x, y: the topmost background there.
  const behind = (x, y) => {
    for (const e of document.elementsFromPoint(x, y)) {
      const c = getComputedStyle(e).backgroundColor;
      if (!/^rgba\(.*,\s*0\)$/.test(c) && c !== 'transparent') return c;
    }
    return null;
  };
  const around = [];
  const midX = r.left + r.width / 2, midY = r.top + r.height / 2;
  for (const d of offset > 0 ? [width + offset + 1, offset / 2] : [width + offset + 1]) {
    for (const [x, y] of [[r.left - d, midY], [r.right + d, midY], [midX, r.top - d], [midX, r.bottom + d]]) {
      if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
      const c = behind(x, y);
      if (c) around.push(c);
    }
  }
  const label = a.id ? '#' + a.id : a.tagName.toLowerCase() + ' ' + (a.getAttribute('aria-label') || a.textContent.trim());
  return { label, visible: a.matches(':focus-visible'), style: s.outlineStyle, color: s.outlineColor, around };
}

// In the page: each text field's and list's border in the element sel,
// its own background and what is painted just outside it; and its
// placeholder's colour and opacity, if it has one.
function fieldsIn(sel) {
  const out = [];
  for (const e of document.querySelector(sel).querySelectorAll('input[type=text], input[type=number], select, textarea')) {
    if (!e.getClientRects().length || e.disabled) continue;
    // Where the window shows it (a point outside has no element).
    e.scrollIntoView({ block: 'center' });
    const s = getComputedStyle(e);
    const r = e.getBoundingClientRect();
    let outside = null;
    for (const x of document.elementsFromPoint(r.left - 2, r.top + r.height / 2)) {
      const c = getComputedStyle(x).backgroundColor;
      if (!/^rgba\(.*,\s*0\)$/.test(c) && c !== 'transparent') { outside = c; break; }
    }
    const p = e.placeholder ? getComputedStyle(e, '::placeholder') : null;
    out.push({ id: e.id, border: s.borderLeftColor, bg: s.backgroundColor, outside,
      placeholder: p ? p.color : null, opacity: p ? Number(p.opacity) : 1 });
  }
  return out;
}

// The focused element's ring, as ringAndAround measures it.
export const ring = (page) => page.evaluate(ringAndAround);

// The fields in the element sel, as fieldsIn measures them.
export const fields = (page, sel) => page.evaluate(fieldsIn, sel);

// Tabs from where the focus is, count times at most, until the focus
// leaves the element sel: each focused element's ring.
export async function tabThrough(page, sel, count) {
  const rings = [];
  for (let i = 0; i < count; i++) {
    await page.keyboard.press('Tab');
    const inside = await page.evaluate((within) => {
      const a = document.activeElement;
      return !!a && a !== document.body && !!a.closest(within);
    }, sel);
    if (!inside) break;
    rings.push(await ring(page));
  }
  return rings;
}

// Each ring shown, and 3:1 against each colour next to it.
export function assertRings(rings) {
  for (const r of rings) {
    assert.ok(r.visible && r.style !== 'none', `${r.label}: a focus ring`);
    assert.ok(r.around.length, `${r.label}: something next to its ring`);
    for (const c of r.around) {
      const k = contrast(r.color, c);
      assert.ok(k >= 3, `${r.label}: its ring ${r.color} on ${c}: ${k.toFixed(2)}:1, under 3:1`);
    }
  }
}

// Each field's border 3:1 against its background and the one around it;
// its placeholder, text, 4.5:1 against its background.
export function assertFields(list) {
  for (const f of list) {
    for (const c of [f.bg, f.outside]) {
      assert.ok(c, `#${f.id}: a background`);
      const k = contrast(f.border, c);
      assert.ok(k >= 3, `#${f.id}: its border ${f.border} on ${c}: ${k.toFixed(2)}:1, under 3:1`);
    }
    if (f.placeholder) {
      const [r, g, b, a = 1] = f.placeholder.match(/[\d.]+/g).map(Number);
      const color = `rgba(${r}, ${g}, ${b}, ${a * f.opacity})`;
      const k = contrast(color, f.bg);
      assert.ok(k >= 4.5, `#${f.id}: its placeholder ${color} on ${f.bg}: ${k.toFixed(2)}:1, under 4.5:1`);
    }
  }
}
