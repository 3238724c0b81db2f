// A drawing from the server, made safe to put in the page. The server's SVG comes from
// Graphviz with escaped labels; it is parsed as XML (no script runs) and anything active
// is dropped anyway before it enters the page.

const ACTIVE = new Set(["script", "foreignobject", "iframe", "embed", "object", "animate",
                        "set", "animatemotion", "animatetransform", "discard", "handler"]);

export function sanitizeSvg(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName !== "svg") throw new Error("the server sent an invalid drawing");
  // Elements that run code, embed HTML, or can rewrite attributes (animate/set can set
  // an href to javascript: after this pass).
  for (const node of [svg, ...svg.querySelectorAll("*")]) {  // the <svg> itself too
    if (node !== svg && ACTIVE.has(node.localName.toLowerCase())) { node.remove(); continue; }
    for (const attr of [...node.attributes]) {
      // Event handlers, and links anywhere but inside the drawing (javascript:, data:...).
      const link = attr.localName.toLowerCase() === "href" && !attr.value.trim().startsWith("#");
      if (/^on/i.test(attr.localName) || link) node.removeAttributeNode(attr);
    }
  }
  // Graphviz's tooltips (<title>, xlink:title) would cover the player's highlights.
  for (const a of svg.querySelectorAll("a")) a.removeAttribute("xlink:title");
  for (const title of svg.querySelectorAll("title")) title.remove();
  return document.importNode(svg, true);
}
