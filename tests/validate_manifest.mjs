// Validate a Teams app manifest OFFLINE against the official JSON schema bundled in
// @microsoft/app-manifest (AppManifestUtils.validateAgainstSchema maps `$schema` to that file).
//
//   node tests/validate_manifest.mjs path/to/manifest.json
//
// Prints {"schema": <bundled schema file>, "errors": [...]} as JSON on stdout.
// Exit 0: valid. Exit 1: schema errors. Exit 2: cannot validate (bad input, or a `$schema` the package
// does not bundle: the library would then download it, and this check must never reach the network).
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

function fail(message) {
  process.stdout.write(JSON.stringify({ schema: null, errors: [], problem: message }) + "\n");
  process.exit(2);
}

const file = process.argv[2];
if (!file) fail("usage: node tests/validate_manifest.mjs MANIFEST.json");

let manifest;
try {
  manifest = JSON.parse(readFileSync(file, "utf8"));
} catch (error) {
  fail(`cannot read ${file}: ${error.message}`);
}

const { AppManifestUtils } = require("@microsoft/app-manifest");
const packageRoot = path.dirname(require.resolve("@microsoft/app-manifest/package.json"));
const suffix = typeof manifest.$schema === "string" ? AppManifestUtils.getLocalSchemaSuffix(manifest.$schema) : undefined;
const schemaFile = suffix ? path.join(packageRoot, "build", suffix) : null;
if (!schemaFile || !existsSync(schemaFile)) {
  fail(`$schema ${JSON.stringify(manifest.$schema)} is not bundled in @microsoft/app-manifest`);
}

const errors = await AppManifestUtils.validateAgainstSchema(manifest);
process.stdout.write(JSON.stringify({ schema: schemaFile, errors }, null, 2) + "\n");
process.exit(errors.length ? 1 : 0);
