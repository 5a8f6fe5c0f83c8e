// Keyboard shortcuts of the annotation review page (a static file: the dashboard's CSP runs
// no inline script). Digits 1-9 pick the choice carrying that data-key, "c" focuses the
// comment, Escape leaves it, Enter (Ctrl+Enter from the comment) saves the label, "s" skips.
(function () {
  "use strict";
  var form = document.getElementById("label-form");
  if (!form) {
    return;
  }
  var comment = document.getElementById("comment");
  var save = document.getElementById("label-submit");
  var skip = document.getElementById("skip-submit");
  var buttons = ["radio", "checkbox", "submit", "button", "reset"];

  function typing(element) {
    if (!element || !element.tagName) {
      return false;
    }
    var tag = element.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select" || element.isContentEditable) {
      return true;
    }
    return tag === "input" && buttons.indexOf(element.type) < 0;
  }

  function submit(button) {
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit(button);
    } else {
      button.click();
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.isComposing) {
      return;
    }
    var target = event.target;
    if (typing(target)) {
      if (event.key === "Escape") {
        target.blur();
        event.preventDefault();
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        submit(save);
      }
      return;
    }
    if (event.ctrlKey || event.metaKey) {
      return;
    }
    if (/^[1-9]$/.test(event.key)) {
      var choice = form.querySelector('input[data-key="' + event.key + '"]');
      if (choice) {
        choice.checked = true;
        choice.focus();
        event.preventDefault();
      }
    } else if (event.key === "c" && comment) {
      comment.focus();
      event.preventDefault();
    } else if (event.key === "s") {
      event.preventDefault();
      skip.click();
    } else if (event.key === "Enter") {
      var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
      if (tag === "button" || tag === "a") {
        return;
      }
      event.preventDefault();
      submit(save);
    }
  });
})();
