// Parse Adaptive Cards with the official renderer (npm `adaptivecards`, pinned in package.json) and
// Microsoft's Teams light host config, and report every warning it raises.
//
//   node tests/check_cards.mjs cards.json        (a JSON array of cards)
//
// Prints a JSON array, one entry per card: the warnings of parsing (unknown elements or actions, bad
// values) and of validation (DuplicateId, inputs without labels, too many actions, ...). Teams' charts
// (`Chart.*`) are unknown to the renderer: they are accepted when they carry a `fallback` (what a client
// without charts renders), and reported as "missing fallback" when they do not.
// Exit 0: no warning. Exit 1: warnings. Exit 2: cannot check.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const AC = require("adaptivecards/dist/adaptivecards.js");
const here = path.dirname(fileURLToPath(import.meta.url));
const hostConfig = JSON.parse(readFileSync(path.join(here, "..", "node_modules", ".curfew", "microsoft-teams-light.json"), "utf8"));

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: node tests/check_cards.mjs CARDS.json\n");
  process.exit(2);
}
const cards = JSON.parse(readFileSync(file, "utf8"));

const CHART = /^Chart\./;

function charts(node, found = []) {
  // Every Chart.* element of a card (wherever it sits), with whether it carries a fallback.
  if (Array.isArray(node)) node.forEach((n) => charts(n, found));
  else if (node && typeof node === "object") {
    if (typeof node.type === "string" && CHART.test(node.type)) found.push({ type: node.type, fallback: node.fallback !== undefined });
    Object.values(node).forEach((v) => charts(v, found));
  }
  return found;
}

const eventName = (n) => AC.ValidationEvent[n] ?? String(n);

const results = cards.map((json, index) => {
  const warnings = [];
  const card = new AC.AdaptiveCard();
  card.hostConfig = new AC.HostConfig(hostConfig);
  const context = new AC.SerializationContext();
  card.parse(json, context);
  for (let i = 0; i < context.eventCount; i++) {
    const e = context.getEventAt(i);
    const chart = /Unknown element type "(Chart\.[^"]+)"/.exec(e.message);
    if (e.event === AC.ValidationEvent.UnknownElementType && chart) continue; // checked below
    warnings.push(`${eventName(e.event)}: ${e.message}`);
  }
  for (const e of card.validateProperties().validationEvents) {
    warnings.push(`${eventName(e.event)}: ${e.message}`);
  }
  for (const c of charts(json)) {
    if (!c.fallback) warnings.push(`MissingFallback: ${c.type} has no fallback for clients without charts`);
  }
  return { index, warnings };
});

process.stdout.write(JSON.stringify(results) + "\n");
process.exit(results.some((r) => r.warnings.length) ? 1 : 0);
