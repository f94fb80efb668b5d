// The page at "/": classify a text with POST predict and show the label and the class probabilities,
// then explain it with POST explain: each token shaded by its occlusion importance and, for
// Transformer runs, each head's attention. A multi-label run's page shows every label over its
// threshold, a bar per label with its threshold marked, and the tokens shaded once per chosen label.
// Everything from the text or the server is written with textContent / canvas fillText, never as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const pct = (p) => (100 * p).toFixed(1) + "%";

  let busy = false;
  let thresholds = null;  // a multi-label run's {label: threshold} (GET metadata); null for single-label runs
  let runLoaded = Promise.resolve();  // the run's description (and thresholds), read once at start

  // --- run description and examples --------------------------------------------------

  async function loadRun() {
    try {
      const response = await fetch("metadata", { headers: { accept: "application/json" } });
      const meta = await response.json();
      if (!response.ok) throw new Error(meta.error || response.statusText);
      const parts = [];
      if (meta.model) parts.push("model " + meta.model);
      // an ONNX export folder (its export.json is meta.run): the user sees which network answers
      if (meta.run && meta.run.format === "onnx") parts.push(meta.run.quantized ? "ONNX export, int8" : "ONNX export");
      if (meta.multi_label) {
        thresholds = meta.thresholds || {};
        parts.push("multi-label, " + meta.labels.length + " labels: " + meta.labels.join(", "));
        const f1 = (meta.run && meta.run.test_micro_f1) ?? (meta.test_metrics && meta.test_metrics.micro_f1);
        if (typeof f1 === "number") parts.push("test micro-F1 " + pct(f1));
      } else {
        parts.push(meta.labels.length + " classes: " + meta.labels.join(", "));
        const accuracy = (meta.run && meta.run.test_accuracy) ?? (meta.test_metrics && meta.test_metrics.accuracy);
        if (typeof accuracy === "number") parts.push("test accuracy " + pct(accuracy));
      }
      $("run-info").textContent = parts.join(" \u00b7 ");
      if (meta.limits && meta.limits.max_chars) $("text").maxLength = meta.limits.max_chars;
      showExamples(meta.examples || []);
    } catch (err) {
      $("run-info").textContent = "could not read the run's description (" + err.message + ")";
    }
  }

  function showExamples(examples) {
    const box = $("examples");
    for (const text of examples) {
      const button = el("button", "example", text);
      button.type = "button";
      button.title = text;
      button.addEventListener("click", () => {
        $("text").value = text;
        classify();
      });
      box.appendChild(button);
    }
    box.hidden = examples.length === 0;
  }

  // --- asking the server ---------------------------------------------------------------

  function setStatus(message, isError) {
    const status = $("status");
    status.textContent = message;
    status.className = isError ? "error" : "muted";
  }

  // POST a JSON body; the parsed answer, or an Error with the server's one-line message.
  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
    });
    let answer;
    try {
      answer = await response.json();
    } catch (err) {
      throw new Error("HTTP " + response.status + " (not JSON)");
    }
    if (!response.ok) throw new Error(answer.error || "HTTP " + response.status);
    return answer;
  }

  // The prediction (POST predict, fast) is shown at once; the explanation (POST explain, n + 1 model
  // calls) fills in when it arrives. If the explanation fails, the prediction stays and the
  // explanation part says why in one line.
  async function classify() {
    const text = $("text").value;
    if (!text.trim()) {
      setStatus("Type some text first.", true);
      return;
    }
    if (busy) return;
    busy = true;
    $("submit").disabled = true;
    setStatus("Classifying\u2026", false);
    const began = performance.now();
    const elapsed = () => Math.round(performance.now() - began) + " ms";
    try {
      let prediction;
      try {
        prediction = (await post("predict", { texts: [text] })).predictions[0];
      } catch (err) {
        setStatus("Error: " + err.message, true);
        return;
      }
      await runLoaded;  // the thresholds, before the bars that mark them
      renderPrediction(prediction);
      setStatus("Explaining\u2026 (prediction in " + elapsed() + ")", false);
      try {
        renderExplanation(await post("explain", { text: text }));
        setStatus("Done in " + elapsed() + ".", false);
      } catch (err) {
        showExplanationError(err.message);
        setStatus("Done in " + elapsed() + ": prediction only, no explanation.", false);
      }
    } finally {
      busy = false;
      $("submit").disabled = false;
    }
  }

  // --- the answer ----------------------------------------------------------------------

  function renderPrediction(prediction) {
    $("result").hidden = false;
    const multi = Array.isArray(prediction.labels);  // a multi-label run's answer: a set of labels
    $("result-title").textContent = multi ? "Labels" : "Prediction";
    $("single-prediction").hidden = multi;
    $("label-set").hidden = !multi;
    if (multi) {
      renderLabelSet(prediction);
    } else {
      $("label").textContent = prediction.label;
      $("confidence").textContent = pct(prediction.probabilities[prediction.label]);
    }
    renderBars(prediction.probabilities, multi ? prediction.labels : [prediction.label], multi);
    $("explanation").hidden = true;  // the last text's explanation would be misleading beside this prediction
    $("explain-error").hidden = true;
  }

  // Every label over its threshold, most probable first, with its probability.
  function renderLabelSet(prediction) {
    const chips = $("chosen");
    chips.replaceChildren();
    for (const name of prediction.labels) {
      const chip = el("li", "chip", name);
      chip.dataset.label = name;
      chip.appendChild(el("span", "chip-value", pct(prediction.probabilities[name])));
      chips.appendChild(chip);
    }
    if (prediction.labels.length === 0) chips.appendChild(el("li", "none", "no label over its threshold"));
    const count = Object.keys(prediction.probabilities).length;
    $("label-set-note").textContent = prediction.labels.length + " of " + count + " labels over their " +
      "thresholds. Each label has its own probability (they need not sum to 1); the line in its bar marks its threshold.";
  }

  function renderExplanation(answer) {
    $("explanation").hidden = false;
    const multi = Array.isArray(answer.explanations);
    $("explanation-title").textContent = multi ? "Which words push each label" : "Which words push the prediction";
    $("legend-label").textContent = multi ? "the label above it" : "\u201c" + answer.label + "\u201d";
    if (multi) renderLabelTokens(answer); else renderTokens(answer);
    renderAttention(answer.attention, answer.attention_skipped);
  }

  function showExplanationError(message) {
    const box = $("explain-error");
    box.textContent = "No explanation: " + message;
    box.hidden = false;
  }

  const percent = (p) => Math.max(0, Math.min(100, 100 * p)).toFixed(2) + "%";

  // A bar per class; ``chosen``: the predicted class, or a multi-label run's labels, whose thresholds are marked.
  function renderBars(probabilities, chosen, multi) {
    const bars = $("bars");
    bars.replaceChildren();
    for (const [name, p] of Object.entries(probabilities)) {
      const picked = chosen.includes(name);
      const row = el("div", "bar-track");
      const fill = el("div", "bar-fill" + (picked ? (multi ? " chosen" : " top") : ""));
      fill.style.width = percent(p);
      row.appendChild(fill);
      const nameCell = el("span", "bar-name", name);
      const value = el("span", "bar-value", pct(p));
      for (const node of [nameCell, row, value]) node.dataset.label = name;
      value.dataset.probability = String(p);
      let description = name + " " + pct(p);
      const threshold = multi && thresholds ? thresholds[name] : undefined;
      if (typeof threshold === "number") {
        const mark = el("div", "bar-threshold");
        mark.style.left = percent(threshold);
        mark.dataset.threshold = String(threshold);
        row.appendChild(mark);
        value.dataset.threshold = String(threshold);
        description += ", threshold " + pct(threshold) + (picked ? ", chosen" : "");
        row.title = "threshold " + pct(threshold);
      }
      if (multi) value.dataset.chosen = String(picked);
      row.setAttribute("role", "img");
      row.setAttribute("aria-label", description);
      bars.append(nameCell, row, value);
    }
  }

  function tokenColor(value, scale) {
    const alpha = scale > 0 ? Math.min(1, Math.abs(value) / scale) * 0.8 : 0;
    const rgb = value > 0 ? "34,160,70" : "215,48,39";
    return "rgba(" + rgb + "," + alpha.toFixed(3) + ")";
  }

  // The tokens as spans shaded by ``importance`` (each on its own scale), appended to ``box``.
  function shadeTokens(box, tokens, importance, label) {
    const scale = Math.max(0, ...importance.map(Math.abs));
    tokens.forEach((token, i) => {
      const value = importance[i];
      const span = el("span", "tok", token);
      span.style.backgroundColor = tokenColor(value, scale);
      span.dataset.importance = String(value);
      span.title = (value >= 0 ? "+" : "") + value.toFixed(4) + " (P(" + label + ") drops by this when hidden)";
      box.appendChild(span);
      box.appendChild(document.createTextNode(" "));
    });
  }

  function renderTokens(answer) {
    const box = $("tokens");
    box.replaceChildren();
    shadeTokens(box, answer.tokens, answer.importance, answer.label);
    showMethod(answer, "");
  }

  // A multi-label run: the tokens once per explained label, shaded by the drop in that label's own probability.
  function renderLabelTokens(answer) {
    const box = $("tokens");
    box.replaceChildren();
    for (const part of answer.explanations) {
      const group = el("div", "token-group");
      group.dataset.label = part.label;
      const heading = el("h3", "", "\u201c" + part.label + "\u201d ");
      heading.appendChild(el("span", "muted", pct(part.probability) + ", threshold " + pct(part.threshold) +
        (part.chosen ? "" : " (no label is over its threshold: the most probable one)")));
      const line = el("p", "tokens");
      shadeTokens(line, answer.tokens, part.importance, part.label);
      group.append(heading, line);
      box.appendChild(group);
    }
    const extra = answer.labels.length > answer.explanations.length
      ? " The " + answer.explanations.length + " most probable of the " + answer.labels.length + " labels are explained."
      : "";
    showMethod(answer, extra);
  }

  function showMethod(answer, extra) {
    let note = "Importance by occlusion: " + answer.method + "." + extra;
    if (answer.words_explained < answer.words) {
      note += " Only the first " + answer.words_explained + " of " + answer.words +
        " words are explained; the prediction is the whole text's.";
    }
    $("method").textContent = note;
  }

  // --- attention maps ------------------------------------------------------------------

  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

  function viridis(t) {
    t = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
    const i = Math.min(VIRIDIS.length - 2, Math.floor(t));
    const f = t - i;
    const c = VIRIDIS[i].map((a, k) => Math.round(a + f * (VIRIDIS[i + 1][k] - a)));
    return "rgb(" + c.join(",") + ")";
  }

  const shortToken = (t) => (t.length > 12 ? t.slice(0, 11) + "\u2026" : t);

  // skipped: the server's reason when a Transformer's maps cannot be read (an ONNX export keeps none)
  function renderAttention(attention, skipped) {
    const section = $("attention-section");
    const heads = $("heads");
    heads.replaceChildren();
    section.hidden = !attention && !skipped;
    $("attention-maps").hidden = !attention;
    if (!attention) {
      $("attention-note").textContent = skipped ? "Not shown: " + skipped + "." : "";
      return;
    }
    const k = attention.tokens.length;
    const vmax = attention.max > 0 ? attention.max : 1;
    $("scale-max").textContent = vmax.toFixed(3);
    $("attention-note").textContent =
      "Row = attending token, column = attended token; one colour scale for every head, 0 to " +
      vmax.toFixed(3) + ". " +
      (k < attention.tokens_total
        ? "Weights among the first " + k + " of " + attention.tokens_total + " tokens (each row's weights over all tokens sum to 1)."
        : "All " + k + " tokens; each row sums to 1.");
    attention.weights.forEach((matrix, h) => heads.appendChild(headFigure(h, matrix, attention.tokens, vmax)));
  }

  function headFigure(h, matrix, tokens, vmax) {
    const k = tokens.length;
    const cell = Math.max(8, Math.min(18, Math.floor(336 / Math.max(1, k))));  // px per token: labels stay legible
    const font = Math.max(8, Math.min(12, cell - 2));
    const labels = tokens.map(shortToken);
    const measure = document.createElement("canvas").getContext("2d");
    measure.font = font + "px sans-serif";
    const pad = Math.ceil(Math.max(...labels.map((t) => measure.measureText(t).width), 10)) + 6;
    const width = pad + k * cell + 1;
    const height = pad + k * cell + 1;
    const ratio = window.devicePixelRatio || 1;

    const figure = el("figure", "head");
    figure.appendChild(el("figcaption", "", "head " + (h + 1)));
    const canvas = el("canvas");
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    canvas.dataset.head = String(h);
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", "attention weights of head " + (h + 1) + ", " + k + " by " + k + " tokens");
    figure.appendChild(canvas);

    const ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    ctx.font = font + "px sans-serif";
    ctx.fillStyle = "#1d2329";
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    labels.forEach((t, i) => ctx.fillText(t, pad - 4, pad + (i + 0.5) * cell));
    ctx.save();
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "left";
    labels.forEach((t, j) => ctx.fillText(t, -pad + 4, pad + (j + 0.5) * cell));
    ctx.restore();
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        ctx.fillStyle = viridis(matrix[i][j] / vmax);
        ctx.fillRect(pad + j * cell, pad + i * cell, cell, cell);
      }
    }
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);

    canvas.addEventListener("mousemove", (event) => {
      const box = canvas.getBoundingClientRect();
      const j = Math.floor((event.clientX - box.left - pad) / cell);
      const i = Math.floor((event.clientY - box.top - pad) / cell);
      ctx.putImageData(image, 0, 0);
      if (i < 0 || j < 0 || i >= k || j >= k) return;
      ctx.strokeStyle = "#ff3b30";
      ctx.lineWidth = 1.5;
      ctx.strokeRect(pad + j * cell + 0.75, pad + i * cell + 0.75, cell - 1.5, cell - 1.5);
      $("attention-readout").textContent = "head " + (h + 1) + ": \u201c" + tokens[i] + "\u201d (#" + (i + 1) +
        ") \u2192 \u201c" + tokens[j] + "\u201d (#" + (j + 1) + "): " + matrix[i][j].toFixed(4);
    });
    canvas.addEventListener("mouseleave", () => ctx.putImageData(image, 0, 0));
    return figure;
  }

  // --- wiring --------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("submit").addEventListener("click", classify);
    $("text").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        classify();
      }
    });
    runLoaded = loadRun();
  });
})();
