// Progressive enhancement only: every page works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons: data-copy names the element whose text is copied.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        button.textContent = "Copied";
      } catch {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = "Selected: press Ctrl+C";
      }
    });
  }
  // File inputs: data-fill names the textarea that receives the file's text.
  for (const input of document.querySelectorAll("input[type=file][data-fill]")) {
    input.addEventListener("change", async () => {
      const target = document.getElementsByName(input.dataset.fill)[0];
      const file = input.files && input.files[0];
      if (!target || !file) return;
      if (file.size > 64 * 1024) {
        target.value = "";
        alert("The file is larger than 64 KiB; is it really a PEM certificate?");
        return;
      }
      target.value = await file.text();
    });
  }
});
