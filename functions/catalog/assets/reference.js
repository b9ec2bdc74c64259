// Renders the OpenAPI document the API serves: sections by tag, each operation with its
// parameters, an example request body and its responses. Text only (textContent), never markup
// from the document, and nothing loaded from anywhere but this API.
"use strict";

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function slug(text) {
  return "tag-" + text.toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

function parameters(operation) {
  const list = operation.parameters || [];
  if (list.length === 0) return null;
  const rows = list.map((p) =>
    element("tr", {}, element("td", {}, element("code", {}, p.name)), element("td", {}, p.in),
      element("td", {}, p.required ? "required" : "optional"), element("td", {}, p.description || "")));
  return element("table", { class: "parameters" },
    element("tr", {}, element("th", {}, "Parameter"), element("th", {}, "In"), element("th", {}, ""), element("th", {}, "")),
    ...rows);
}

function requestBody(operation) {
  const media = operation.requestBody && operation.requestBody.content && operation.requestBody.content["application/json"];
  if (!media || media.example === undefined) return null;
  return element("div", { class: "request" }, element("strong", {}, "Example request body"),
    element("pre", {}, JSON.stringify(media.example, null, 2)));
}

function responses(operation) {
  const rows = Object.entries(operation.responses || {}).map(([status, response]) =>
    element("tr", {}, element("td", {}, element("code", {}, status)), element("td", {}, response.description || "")));
  return element("table", { class: "responses" }, element("tr", {}, element("th", {}, "Status"), element("th", {}, "")), ...rows);
}

function render(doc) {
  document.getElementById("version").textContent = `${doc.info.title} ${doc.info.version} · OpenAPI ${doc.openapi}`;
  const byTag = new Map((doc.tags || []).map((t) => [t.name, []]));
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const tag = (operation.tags || ["Other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method, operation });
    }
  }
  const main = document.getElementById("operations");
  const nav = document.getElementById("tags");
  main.replaceChildren(element("p", { id: "description" }, doc.info.description || ""));
  for (const [tag, operations] of byTag) {
    if (operations.length === 0) continue;
    nav.append(element("a", { href: "#" + slug(tag) }, tag));
    const section = element("section", { class: "tag", id: slug(tag) }, element("h2", {}, tag));
    for (const { path, method, operation } of operations) {
      section.append(element("article", { class: "operation", id: operation.operationId || `${method}-${path}` },
        element("h3", {}, element("span", { class: `method ${method}` }, method.toUpperCase()), element("code", { class: "path" }, path)),
        element("p", { class: "summary" }, operation.summary || ""),
        operation.description ? element("p", { class: "description" }, operation.description) : null,
        parameters(operation), requestBody(operation), responses(operation)));
    }
    main.append(section);
  }
  document.body.dataset.operations = String(document.querySelectorAll("article.operation").length);
}

fetch(document.getElementById("operations").dataset.document)
  .then((response) => {
    if (!response.ok) throw new Error(`the document answered ${response.status}`);
    return response.json();
  })
  .then(render)
  .catch((error) => {
    document.getElementById("operations").replaceChildren(element("p", { id: "failed" }, `The reference could not load: ${error.message}`));
  });
