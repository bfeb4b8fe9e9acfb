// What Mermaid and a GFM renderer make of the report's output, for tests/report/.
//   node check.mjs mermaid IN.json OUT.json   IN: a JSON list of Mermaid texts. OUT, per
//     text: {ok, type, config, error, actors: [{name, description}], messages: [{from, to,
//     type, message}], linetypes}, labels as Mermaid's parser keeps them (its entities in
//     placeholder form: "#35;" is "\ufb02\u00b0\u00b035\u00b6\u00df").
//   node check.mjs markdown IN.json OUT.json  IN: a JSON list of Markdown texts. OUT, per
//     text: {html, mermaid: [the text of each ```mermaid block]} rendered by marked (GFM).
import { readFileSync, writeFileSync } from "node:fs";
import { marked } from "marked";
import mermaid from "mermaid";

const [mode, input, output] = process.argv.slice(2);
const texts = JSON.parse(readFileSync(input, "utf8"));

async function parseMermaid(text) {
  try {
    const parsed = await mermaid.parse(text);
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const actors = [...diagram.db.getActors().values()].map((a) => ({
      name: a.name,
      description: a.description,
    }));
    const messages = diagram.db.getMessages().map((m) => ({
      from: m.from ?? null,
      to: m.to ?? null,
      type: m.type,
      message: m.message,
    }));
    return {
      ok: true,
      type: parsed.diagramType,
      config: parsed.config,
      actors,
      messages,
      linetypes: diagram.db.LINETYPE,
      error: null,
    };
  } catch (error) {
    return { ok: false, type: null, config: null, actors: [], messages: [], error: String(error) };
  }
}

function renderMarkdown(text) {
  const blocks = [];
  marked.walkTokens(marked.lexer(text, { gfm: true }), (token) => {
    if (token.type === "code" && token.lang === "mermaid") blocks.push(token.text);
  });
  return { html: marked.parse(text, { gfm: true }), mermaid: blocks };
}

const results = [];
for (const text of texts) {
  results.push(mode === "mermaid" ? await parseMermaid(text) : renderMarkdown(text));
}
writeFileSync(output, JSON.stringify(results));
