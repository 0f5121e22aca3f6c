// Compose page: filter the unit list, "all units", and upload with a progress bar.
(function () {
  "use strict";
  var form = document.getElementById("compose");
  if (!form) { return; }
  var filter = document.getElementById("unit-filter");
  var all = document.getElementById("to-all");
  var items = document.querySelectorAll("#units li[data-search]");
  filter.addEventListener("input", function () {
    var q = filter.value.trim().toLowerCase();
    items.forEach(function (li) { li.hidden = q !== "" && li.dataset.search.indexOf(q) < 0; });
  });
  all.addEventListener("change", function () {
    items.forEach(function (li) { li.querySelector("input").checked = all.checked; });
  });
  form.addEventListener("submit", function (event) {
    var files = document.getElementById("files").files;
    var total = 0;
    for (var i = 0; i < files.length; i++) { total += files[i].size; }
    var error = document.getElementById("upload-error");
    if (total > Number(form.dataset.maxBytes)) {
      event.preventDefault();
      error.textContent = form.dataset.tooLarge;
      error.hidden = false;
      return;
    }
    event.preventDefault();
    var box = document.getElementById("progress");
    var bar = document.getElementById("progress-bar");
    var text = document.getElementById("progress-text");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round(100 * e.loaded / e.total);
        text.textContent = bar.value + "%";
      }
    });
    xhr.addEventListener("load", function () {
      if (xhr.responseURL.indexOf("/compose/confirm/") >= 0) {
        window.location.assign(xhr.responseURL);
        return;
      }
      document.open();
      document.write(xhr.responseText);
      document.close();
    });
    xhr.addEventListener("error", function () {
      box.hidden = true;
      error.textContent = form.dataset.tooLarge;
      error.hidden = false;
    });
    document.getElementById("compose-next").disabled = true;
    box.hidden = false;
    xhr.send(new FormData(form));
  });
}());
