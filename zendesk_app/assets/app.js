/* The ticket sidebar: each reply's read status, from the read-receipt service through Zendesk's secure proxy. */
(function () {
  "use strict";

  var STRINGS = {
    en: {
      tag: { read: "Read", preloaded: "Preloaded", machines: "Machines only", not_opened: "Not opened yet" },
      readOn: "Read by a person on {when}",
      readIn: "Read by a person on {when} in {client}",
      reads: "{n} reads",
      preloaded: "Apple Mail loaded the images: delivered to Apple Mail, not proof of reading.",
      machines: "Only machines loaded it (security scanners, prefetching, bots).",
      notOpened: "No one has loaded its images yet.",
      reply: "Reply #{id}",
      replyOf: "Reply of {when}",
      replyBy: "Reply of {when}, by {author}",
      aReply: "A reply",
      audience: "Could have read it: {who}",
      requester: "the requester",
      ccs: "{who} and {n} CC",
      dashboard: "All opens on the dashboard",
      none: "No reply of this ticket was sent with the read-receipt image yet.",
      failed: "The read-receipt service did not answer ({status}). Check the app's service_url and api_token settings.",
      outside: "Open this app from a ticket in Zendesk."
    },
    de: {
      tag: { read: "Gelesen", preloaded: "Vorgeladen", machines: "Nur Maschinen", not_opened: "Noch nicht geöffnet" },
      readOn: "Von einer Person gelesen am {when}",
      readIn: "Von einer Person gelesen am {when} in {client}",
      reads: "{n}-mal gelesen",
      preloaded: "Apple Mail hat die Bilder geladen: an Apple Mail zugestellt, kein Beweis fürs Lesen.",
      machines: "Nur Maschinen haben sie geladen (Sicherheitsscanner, Vorabruf, Bots).",
      notOpened: "Noch niemand hat ihre Bilder geladen.",
      reply: "Antwort #{id}",
      replyOf: "Antwort vom {when}",
      replyBy: "Antwort vom {when}, von {author}",
      aReply: "Eine Antwort",
      audience: "Konnte sie lesen: {who}",
      requester: "der Anfragende",
      ccs: "{who} und {n} CC",
      dashboard: "Alle Öffnungen im Dashboard",
      none: "Zu diesem Ticket wurde noch keine Antwort mit dem Lesebestätigungsbild gesendet.",
      failed: "Der Lesebestätigungsdienst hat nicht geantwortet ({status}). Prüfen Sie die Einstellungen service_url und api_token der App.",
      outside: "Öffnen Sie diese App in einem Ticket in Zendesk."
    }
  };
  var LEARN_EVERY_MS = 3600 * 1000; // an agent's browser tells the service its address at most hourly

  var app = document.getElementById("app");
  var locale = "en";
  var text = STRINGS.en;

  function say(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) { return String(values[name]); });
  }

  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (content !== undefined) { node.textContent = content; }
    return node;
  }

  function when(iso) {
    return new Date(iso).toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" });
  }

  function replyDetail(reply) {
    if (reply.status === "read") {
      var read = reply.first_read_at ? when(reply.first_read_at) : "?";
      var line = reply.client ? say(text.readIn, { when: read, client: reply.client }) : say(text.readOn, { when: read });
      return reply.reads > 1 ? line + " · " + say(text.reads, { n: reply.reads }) : line;
    }
    return { preloaded: text.preloaded, machines: text.machines }[reply.status] || text.notOpened;
  }

  function replyItem(reply, requester) {
    var item = element("li", "reply " + reply.status);
    var head = element("div", "reply-head");
    // Agents know a reply by when it was sent and who wrote it, not by its comment id.
    var name = reply.reply ? say(text.reply, { id: reply.reply }) : text.aReply;
    if (reply.sent_at) {
      var sentAt = when(reply.sent_at);
      name = reply.author ? say(text.replyBy, { when: sentAt, author: reply.author }) : say(text.replyOf, { when: sentAt });
    }
    head.appendChild(element("span", "reply-name", name));
    head.appendChild(element("span", "tag " + reply.status, text.tag[reply.status] || reply.status));
    item.appendChild(head);
    item.appendChild(element("div", "detail", replyDetail(reply)));
    var who = requester || text.requester;
    if (reply.ccs > 0) { who = say(text.ccs, { who: who, n: reply.ccs }); }
    item.appendChild(element("div", "audience muted small", say(text.audience, { who: who })));
    return item;
  }

  function render(answer, requester) {
    app.textContent = "";
    if (!answer.replies.length) {
      app.appendChild(element("p", "muted", text.none));
    } else {
      var list = element("ol", "replies");
      answer.replies.forEach(function (reply) { list.appendChild(replyItem(reply, requester)); });
      app.appendChild(list);
    }
    var footer = element("footer", "small");
    var link = element("a", "dashboard", text.dashboard);
    link.href = answer.dashboard_url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    footer.appendChild(link);
    app.appendChild(footer);
  }

  function fail(status) {
    app.textContent = "";
    app.appendChild(element("p", "error", say(text.failed, { status: status || "?" })));
  }

  function fromService(client, url) {
    // Through Zendesk's proxy: it replaces the placeholder with the secure setting, which the browser never sees.
    return client.request({
      url: url,
      type: "GET",
      dataType: "json",
      cors: false,
      secure: true,
      headers: { Authorization: "Bearer {{setting.api_token}}" }
    });
  }

  function learnAddress(client, base, agentId) {
    var key = "read-receipts-seen-" + agentId;
    try {
      if (Date.now() - Number(window.sessionStorage.getItem(key) || 0) < LEARN_EVERY_MS) { return; }
      window.sessionStorage.setItem(key, String(Date.now()));
    } catch (e) { /* no storage in this frame: tell the service on every ticket */ }
    fromService(client, base + "/api/agents/pass?agent_id=" + encodeURIComponent(agentId)).then(function (answer) {
      // The one direct request: it carries the agent's own address to the service, with a single-use pass.
      var body = new URLSearchParams({ agent: String(agentId), pass: answer.pass });
      return fetch(answer.seen_url, { method: "POST", mode: "no-cors", credentials: "omit", body: body });
    }).catch(function () { /* off, or unreachable: the sidebar works without it */ });
  }

  function resize(client) {
    client.invoke("resize", { width: "100%", height: Math.max(80, document.body.scrollHeight + 8) + "px" });
  }

  var client = window.ZAFClient && window.ZAFClient.init();
  if (!client) {
    app.textContent = "";
    app.appendChild(element("p", "muted", text.outside));
    return;
  }
  Promise.all([
    client.metadata(),
    client.get(["ticket.id", "ticket.requester.name", "currentUser.id", "currentUser.locale"])
  ]).then(function (found) {
    var settings = found[0].settings || {};
    var data = found[1];
    locale = String(data["currentUser.locale"] || "en");
    text = STRINGS[locale.slice(0, 2)] || STRINGS.en;
    document.documentElement.lang = locale;
    var base = String(settings.service_url || "").replace(/\/+$/, "");
    var ticketId = data["ticket.id"];
    learnAddress(client, base, data["currentUser.id"]);
    return fromService(client, base + "/api/tickets/" + encodeURIComponent(ticketId) + "/replies").then(
      function (answer) { render(answer, data["ticket.requester.name"]); },
      function (response) { fail(response && response.status); }
    );
  }).catch(function () { fail(); }).then(function () { resize(client); });
})();
