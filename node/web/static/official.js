// Compose page: the number and the signature block drawn as on paper while the clerk types
// (Nghị định 30/2020, Phụ lục I), "thay mặt" filled for TM., the time of hỏa tốc hẹn giờ,
// and the year marked required for a legal document's type. The server checks it all again.
(function () {
  "use strict";
  var form = document.getElementById("compose");
  if (!form) { return; }
  function el(id) { return document.getElementById(id); }
  var authority = el("authority"), actsFor = el("acts-for"), position = el("position");
  var signer = el("signer"), preview = el("signature-preview");
  var number = el("number"), year = el("year"), notation = el("notation");
  var numberPreview = el("number-preview"), docType = el("doc-type");
  var urgency = el("urgency"), scheduled = el("scheduled"), scheduledAt = el("scheduled-at");
  var yearRequired = el("year-required");

  function upper(text) { return text.trim().toLocaleUpperCase("vi"); }

  function drawBlock() {
    var lines = [];
    if (authority.value) { lines.push(authority.value + " " + upper(actsFor.value)); }
    lines.push(upper(position.value));
    lines.push(signer.value.trim());
    preview.textContent = "";
    lines.forEach(function (line) {
      if (!line.trim()) { return; }
      var p = document.createElement("p");
      p.textContent = line;
      preview.appendChild(p);
    });
  }

  function drawNumber() {
    var text = number.value.trim();
    if (notation.value.trim()) {
      text = [text, year.value.trim(), notation.value.trim()].filter(Boolean).join("/");
    }
    numberPreview.textContent = text;
  }

  function legalType() {
    var option = docType.options[docType.selectedIndex];
    var legal = Boolean(option && option.dataset.legal);
    yearRequired.hidden = !legal;
    year.required = legal;
  }

  function showScheduled() {
    var timed = urgency.value === "4";
    scheduled.hidden = !timed;
    scheduledAt.required = timed;
  }

  authority.addEventListener("change", function () {
    if (authority.value === "TM." && !actsFor.value.trim() && form.dataset.inCharge) {
      actsFor.value = form.dataset.inCharge;
    }
    drawBlock();
  });
  [actsFor, position, signer].forEach(function (input) {
    input.addEventListener("input", drawBlock);
  });
  [number, year, notation].forEach(function (input) {
    input.addEventListener("input", drawNumber);
  });
  docType.addEventListener("change", legalType);
  urgency.addEventListener("change", showScheduled);
  drawBlock();
  drawNumber();
  legalType();
  showScheduled();
}());
