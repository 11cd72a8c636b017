/**
 * Graph layout for the report, computed when the report is written, not in
 * the browser: the page then carries finished SVG (no layout library to
 * ship, nothing to run when a reviewer opens it from an email), and the cost
 * is paid once. Small graphs get elkjs's layered layout, which untangles
 * edges; large ones (thousands of cells) get a linear layered layout of our
 * own, because ELK's crossing minimisation is superlinear and took over 4 s
 * for 2,000 cells on this machine.
 */
import { createRequire } from "node:module";
import type { ELK, ElkExtendedEdge, ElkNode } from "elkjs/lib/elk-api.js";
import type { GraphEdge, GraphNode, LaidOutGraph } from "./report-data.js";

export interface GraphInput {
  nodes: Array<{ id: string; label: string; title: string; kind: string; order: number }>;
  edges: Array<{ from: string; to: string; label: string }>;
}

/** Above this many nodes the linear layout is used. */
export const ELK_NODE_LIMIT = 150;

const NODE_HEIGHT = 26;
const CHAR_WIDTH = 6.6;
const GAP_X = 24;
const GAP_Y = 36;

export function nodeWidth(label: string): number {
  return Math.round(Math.min(300, Math.max(56, label.length * CHAR_WIDTH + 20)));
}

// elkjs is CommonJS whose module.exports is the constructor: required, not imported, so the type is honest.
// Required on the first layout, not at import: its 1.5 MB bundle took ~0.1-0.2 s to
// compile, and audit and repeat import this module for `--report` even when not asked.
const requireCjs = createRequire(import.meta.url);
let elk: ELK | undefined;

/**
 * Lay out one graph. `preferElk: false` asks for the linear layout whatever
 * the size: ELK costs tens of milliseconds a call even for three nodes, so a
 * report with thousands of small task graphs lays out only the first few
 * with ELK (see collect.ts).
 */
export async function layoutGraph(input: GraphInput, options: { preferElk?: boolean } = {}): Promise<LaidOutGraph> {
  if (input.nodes.length === 0) return { width: 0, height: 0, layout: "order", nodes: [], edges: [] };
  const known = new Set(input.nodes.map((n) => n.id));
  const edges = input.edges.filter((e) => known.has(e.from) && known.has(e.to) && e.from !== e.to);
  return input.nodes.length <= ELK_NODE_LIMIT && options.preferElk !== false ? elkLayout(input, edges) : orderLayout(input, edges);
}

async function elkLayout(input: GraphInput, edges: GraphInput["edges"]): Promise<LaidOutGraph> {
  elk ??= new (requireCjs("elkjs/lib/elk.bundled.js") as new () => ELK)();
  const graph: ElkNode = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "DOWN",
      "elk.spacing.nodeNode": String(GAP_X),
      "elk.layered.spacing.nodeNodeBetweenLayers": String(GAP_Y),
      "elk.edgeRouting": "POLYLINE",
      // Keep notebook order within a layer where the crossings allow it: people look for cells in order.
      "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
    },
    children: [...input.nodes].sort((a, b) => a.order - b.order).map((n) => ({ id: n.id, width: nodeWidth(n.label), height: NODE_HEIGHT })),
    edges: edges.map((e, i): ElkExtendedEdge => ({ id: `e${i}`, sources: [e.from], targets: [e.to] })),
  };
  const out = await elk.layout(graph);
  const byId = new Map(input.nodes.map((n) => [n.id, n]));
  const nodes: GraphNode[] = (out.children ?? []).map((c) => {
    const n = byId.get(c.id)!;
    return { id: n.id, label: n.label, title: n.title, kind: n.kind, x: c.x ?? 0, y: c.y ?? 0, width: c.width ?? 0, height: c.height ?? 0 };
  });
  const laidEdges: GraphEdge[] = (out.edges ?? []).map((e, i) => {
    const section = e.sections?.[0];
    const points: Array<[number, number]> = section ? [[section.startPoint.x, section.startPoint.y], ...(section.bendPoints ?? []).map((p): [number, number] => [p.x, p.y]), [section.endPoint.x, section.endPoint.y]] : [];
    return { from: edges[i]!.from, to: edges[i]!.to, label: edges[i]!.label, points };
  });
  return { width: Math.ceil(out.width ?? 0), height: Math.ceil(out.height ?? 0), layout: "elk", nodes, edges: laidEdges };
}

/**
 * Longest-path layering in one pass over nodes in notebook order (data flows
 * forward in a notebook run, so producers come first), then each layer left
 * to right in order. Edges are straight lines from the bottom of the producer
 * to the top of the consumer. Linear in nodes plus edges.
 */
function orderLayout(input: GraphInput, edges: GraphInput["edges"]): LaidOutGraph {
  const nodesInOrder = [...input.nodes].sort((a, b) => a.order - b.order);
  const position = new Map(nodesInOrder.map((n, i) => [n.id, i]));
  const incoming = new Map<string, string[]>();
  for (const e of edges) {
    // A backward edge (possible after out-of-order runs) would make layering cyclic: it is drawn but does not layer.
    if (position.get(e.from)! >= position.get(e.to)!) continue;
    (incoming.get(e.to) ?? incoming.set(e.to, []).get(e.to)!).push(e.from);
  }
  const layerOf = new Map<string, number>();
  for (const n of nodesInOrder) layerOf.set(n.id, Math.max(0, ...(incoming.get(n.id) ?? []).map((p) => layerOf.get(p)! + 1)));
  const rows: (typeof nodesInOrder)[] = [];
  for (const n of nodesInOrder) (rows[layerOf.get(n.id)!] ??= []).push(n);
  // Very wide layers wrap, so the page stays readable: a notebook of independent cells is one layer.
  const maxRowWidth = 1600;
  const placed = new Map<string, GraphNode>();
  let y = 0;
  let width = 0;
  for (const row of rows) {
    if (!row) continue;
    let x = 0;
    for (const n of row) {
      const w = nodeWidth(n.label);
      if (x > 0 && x + w > maxRowWidth) {
        x = 0;
        y += NODE_HEIGHT + GAP_X;
      }
      placed.set(n.id, { id: n.id, label: n.label, title: n.title, kind: n.kind, x, y, width: w, height: NODE_HEIGHT });
      x += w + GAP_X;
      width = Math.max(width, x - GAP_X);
    }
    y += NODE_HEIGHT + GAP_Y;
  }
  const laidEdges: GraphEdge[] = edges.map((e) => {
    const a = placed.get(e.from)!;
    const b = placed.get(e.to)!;
    return { from: e.from, to: e.to, label: e.label, points: [[a.x + a.width / 2, a.y + a.height], [b.x + b.width / 2, b.y]] };
  });
  return { width, height: Math.max(0, y - GAP_Y), layout: "order", nodes: [...placed.values()], edges: laidEdges };
}
