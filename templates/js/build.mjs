// Builds app.js into app.wasm, a wasi:http component, with componentize-js.
import { writeFile } from "node:fs/promises";
import { componentize } from "@bytecodealliance/componentize-js";

const { component } = await componentize({
  sourcePath: "app.js",
  witPath: "wit",
  worldName: "app",
});
await writeFile("app.wasm", component);
