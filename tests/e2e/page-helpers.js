// What the page tests share: a real drop of files, and locators for the rows, tiles and facts a
// person reads.
import { readFileSync } from "node:fs";

const asDropped = (file) => ({
  name: file.name,
  type: file.type,
  base64: (file.bytes || readFileSync(file.path)).toString("base64"),
});

/** A real drop: dragenter, dragover (which must be accepted), drop, with File objects. */
export async function dropFiles(page, files) {
  await page.evaluate(async (files) => {
    const transfer = new DataTransfer();
    for (const f of files) {
      const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], f.name, { type: f.type }));
    }
    const zone = document.getElementById("drop");
    const target = zone.querySelector("p") || zone; // a drop lands on whatever is under the pointer
    const box = target.getBoundingClientRect();
    const init = {
      bubbles: true, cancelable: true, composed: true, dataTransfer: transfer,
      clientX: box.x + box.width / 2, clientY: box.y + box.height / 2,
    };
    target.dispatchEvent(new DragEvent("dragenter", init));
    const over = new DragEvent("dragover", init);
    target.dispatchEvent(over);
    if (!over.defaultPrevented) throw new Error("the drop zone refused the dragover");
    if (!zone.classList.contains("over")) throw new Error("the drop zone does not show it accepts the drop");
    target.dispatchEvent(new DragEvent("drop", init));
    if (zone.classList.contains("over")) throw new Error("the drop zone still shows a drag after the drop");
  }, files.map(asDropped));
}

export const uploadRow = (page, name) => page.locator("#uploads li", { has: page.locator(".name", { hasText: name }) });
export const tile = (page, name) => page.locator("#gallery li", { has: page.locator(`button[aria-label^="Open ${name} "]`) });
export const readyTileLoaded = (page, name) =>
  page.waitForFunction(
    (name) => {
      const li = [...document.querySelectorAll("#gallery li")].find((l) =>
        l.querySelector("button").getAttribute("aria-label").startsWith(`Open ${name} `));
      const img = li && li.querySelector("img.loaded");
      return li && li.dataset.status === "ready" && img && img.complete && img.naturalWidth > 0 && img.src;
    },
    name,
    { timeout: 20000 },
  );

/** The `dd` next to the `dt` labelled `label` in the list `#id`. */
export async function fact(page, id, label) {
  return page.evaluate(([id, label]) => {
    const dt = [...document.querySelectorAll(`#${id} dt`)].find((d) => d.textContent === label);
    return dt ? dt.nextElementSibling.textContent : null;
  }, [id, label]);
}
