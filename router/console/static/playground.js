// Playground: send one prompt to each chosen model at once; stream each answer into its own card.
"use strict";

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function field(card, name, label) {
  const row = el("div", "field");
  row.appendChild(el("span", "label", label));
  const value = el("span", "value " + name, "…");
  row.appendChild(value);
  card.querySelector(".facts").appendChild(row);
  return value;
}

function makeCard(model) {
  const card = el("section", "result");
  card.dataset.model = model;
  card.appendChild(el("h2", "", model));
  card.appendChild(el("div", "facts"));
  const fields = {
    model: field(card, "routed-model", "routed to"),
    tier: field(card, "tier", "tier"),
    scores: field(card, "scores", "scores"),
    attempts: field(card, "attempts", "attempts"),
    tokens: field(card, "tokens", "tokens"),
    cost: field(card, "cost", "cost"),
    latency: field(card, "latency", "latency"),
  };
  const answer = el("pre", "answer", "");
  card.appendChild(answer);
  card.appendChild(el("p", "status", "sending…"));
  return { card, fields, answer, status: card.querySelector(".status") };
}

function showRouting(view, response) {
  const h = (name) => response.headers.get(name);
  view.fields.model.textContent = h("x-tiergate-model") || "—";
  view.fields.tier.textContent = (h("x-tiergate-tier") || "—") + " (" + (h("x-tiergate-router") || "?") + ")";
  view.fields.scores.textContent = h("x-tiergate-scores") || "—";
  if (h("x-tiergate-cost-usd")) view.fields.cost.textContent = "$" + h("x-tiergate-cost-usd");
}

async function readStream(response, view) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let usage = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of frame.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices || []) {
          if (choice.delta && choice.delta.content) view.answer.textContent += choice.delta.content;
        }
      }
    }
  }
  return usage;
}

async function logRow(requestId) {
  // The log writer batches rows; poll briefly (bounded) until this one is in.
  for (let i = 0; i < 40; i++) {
    const response = await fetch("/ui/api/requests/" + encodeURIComponent(requestId), { credentials: "same-origin" });
    if (response.ok) return response.json();
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return null;
}

async function run(model, prompt, stream, view) {
  const body = { model, messages: [{ role: "user", content: prompt }], stream };
  if (stream) body.stream_options = { include_usage: true };
  const response = await fetch("/v1/chat/completions", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-tiergate-console": "1" },
    body: JSON.stringify(body),
  });
  showRouting(view, response);
  const requestId = response.headers.get("x-request-id");
  view.card.dataset.requestId = requestId || "";
  let usage = null;
  if (!response.ok) {
    const error = await response.json().catch(() => ({}));
    view.answer.textContent = (error.error && error.error.message) || "HTTP " + response.status;
    view.card.classList.add("failed");
  } else if (stream) {
    usage = await readStream(response, view);
  } else {
    const result = await response.json();
    view.answer.textContent = result.choices[0].message.content || "";
    usage = result.usage;
  }
  if (usage) view.fields.tokens.textContent = usage.prompt_tokens + " in / " + usage.completion_tokens + " out";
  view.status.textContent = "logging…";
  const row = requestId ? await logRow(requestId) : null;
  if (row) {
    view.fields.model.textContent = row.model || view.fields.model.textContent;
    view.fields.tokens.textContent = row.prompt_tokens + " in / " + row.completion_tokens + " out";
    view.fields.cost.textContent = "$" + row.cost_usd + (row.cost_estimated ? " (estimated)" : "");
    view.fields.latency.textContent =
      Math.round(row.latency_ms) + " ms" + (row.ttft_ms !== null ? " (first token " + Math.round(row.ttft_ms) + " ms)" : "");
    view.fields.attempts.textContent = (row.attempts || [])
      .map((a) => a.model + "@" + a.provider + " " + (a.status || a.error_type) + " " + a.latency_ms + "ms")
      .join(" → ");
    if (row.difficulty !== null && view.fields.scores.textContent === "—") {
      view.fields.scores.textContent = "difficulty=" + row.difficulty.toFixed(3) + ";reasoning=" + row.reasoning.toFixed(3);
    }
  }
  view.status.textContent = response.ok ? "done" : "failed";
  view.card.classList.add("done");
}

document.getElementById("playground").addEventListener("submit", (event) => {
  event.preventDefault();
  const prompt = document.getElementById("prompt").value;
  const stream = document.getElementById("stream").checked;
  const models = Array.from(document.querySelectorAll('input[name="model"]:checked')).map((n) => n.value);
  const results = document.getElementById("results");
  results.replaceChildren();
  for (const model of models.length ? models : ["auto"]) {
    const view = makeCard(model);
    results.appendChild(view.card);
    run(model, prompt, stream, view).catch((error) => {
      view.answer.textContent += "\n[" + error.message + "]";
      view.status.textContent = "failed";
      view.card.classList.add("failed", "done");
    });
  }
});
