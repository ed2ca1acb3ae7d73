// Validates KEDA objects (ScaledObject, ScaledJob, TriggerAuthentication) in YAML files against
// the CRD schemas of @kubernetes-models/keda. Its validators accept unknown fields, so the keys
// of the spec and of each trigger are also checked against the models' declared properties: a
// misspelt field would otherwise pass and be silently dropped by the API server.
// Usage: node keda-validate.mjs <node_modules dir> <file.yaml>...
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, ...files] = process.argv.slice(2);
const load = (p) => import(pathToFileURL(join(modules, p)).href);
const yaml = (await load("js-yaml/index.js")).default;
const v1 = "@kubernetes-models/keda/keda.sh/v1alpha1";
const kinds = {
  ScaledObject: (await load(`${v1}/ScaledObject.js`)).ScaledObject,
  ScaledJob: (await load(`${v1}/ScaledJob.js`)).ScaledJob,
  TriggerAuthentication: (await load(`${v1}/TriggerAuthentication.js`)).TriggerAuthentication,
};

// Property names an interface declares in the models' .d.ts (`"name"?: type;`).
function declared(model) {
  const text = readFileSync(join(modules, v1, `${model}.d.ts`), "utf8");
  const start = text.indexOf("export interface");
  const body = text.slice(start, text.indexOf("}\n", start));
  return new Set([...body.matchAll(/^\s+"([^"]+)"\??:/gm)].map((m) => m[1]));
}
const known = {
  ScaledObject: declared("ScaledObjectSpec"),
  ScaledJob: declared("ScaledJobSpec"),
  TriggerAuthentication: declared("TriggerAuthenticationSpec"),
  trigger: declared("ScaleTriggers"),
};
const unknownKeys = (obj, allowed, where) =>
  Object.keys(obj ?? {}).filter((k) => !allowed.has(k)).map((k) => `${where}.${k}: unknown field`);

let failed = 0;
let checked = 0;
for (const file of files) {
  for (const doc of yaml.loadAll(readFileSync(file, "utf8"))) {
    if (!doc || !kinds[doc.kind] || doc.apiVersion !== "keda.sh/v1alpha1") continue;
    const name = `${file}: ${doc.kind}/${doc.metadata?.name}`;
    const problems = [...unknownKeys(doc.spec, known[doc.kind], "spec")];
    (doc.spec?.triggers ?? []).forEach((t, i) =>
      problems.push(...unknownKeys(t, known.trigger, `spec.triggers[${i}]`)));
    try {
      new kinds[doc.kind](doc).validate();
    } catch (e) {
      problems.push(e.message);
    }
    checked += 1;
    if (problems.length) {
      failed += 1;
      console.log(`INVALID ${name}\n  ${problems.join("\n  ")}`);
    }
  }
}
console.log(`${checked} KEDA objects checked, ${failed} invalid`);
process.exit(failed ? 1 : 0);
