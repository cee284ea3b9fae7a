import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { EdgeModelDeployment, allCrds } from './index.ts';

type Node = Record<string, unknown>;

/** Every schema node below a root, with its path. */
function walk(node: unknown, path: string, visit: (n: Node, p: string) => void): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`, visit));
  const n = node as Node;
  visit(n, path);
  for (const [k, v] of Object.entries(n)) walk(v, `${path}.${k}`, visit);
}

function schemaOf(crd: Node): Node {
  const versions = (crd.spec as Node).versions as Node[];
  return ((versions[0] as Node).schema as Node).openAPIV3Schema as Node;
}

describe('generated CRDs', () => {
  for (const { file, crd } of allCrds()) {
    describe(file, () => {
      const schema = schemaOf(crd);

      it('is structural: every property has a type, no $ref, no closed objects', () => {
        const problems: string[] = [];
        walk(schema, '', (n, p) => {
          if ('$ref' in n || '$defs' in n || 'definitions' in n) problems.push(`${p}: reference`);
          if (n.additionalProperties === false) problems.push(`${p}: additionalProperties false`);
          if ('nullable' in n && n.nullable === true && !('type' in n)) problems.push(`${p}: nullable without type`);
          const props = n.properties as Record<string, Node> | undefined;
          if (props && p.endsWith('.properties') === false) {
            for (const [name, prop] of Object.entries(props)) {
              if (!('type' in prop) && prop['x-kubernetes-int-or-string'] !== true) problems.push(`${p}.${name}: no type`);
            }
          }
        });
        expect(problems).toEqual([]);
      });

      it('lists every required property, so the API server does not prune a required field', () => {
        const problems: string[] = [];
        walk(schema, '', (n, p) => {
          const props = (n.properties ?? {}) as Record<string, Node>;
          for (const name of (n.required as string[] | undefined) ?? []) if (!(name in props)) problems.push(`${p}: ${name}`);
        });
        expect(problems).toEqual([]);
      });

      it('describes every field, so kubectl explain has something to say', () => {
        const missing: string[] = [];
        if (typeof schema.description !== 'string' || schema.description.length < 10) missing.push('(root)');
        walk(schema, '', (n, p) => {
          if (p.endsWith('.properties')) return;
          const props = n.properties as Record<string, Node> | undefined;
          for (const [name, prop] of Object.entries(props ?? {})) {
            // The API server documents ObjectMeta itself and refuses a description here.
            if (p === '' && name === 'metadata') continue;
            const d = prop.description;
            if (typeof d !== 'string' || d.trim().length < 3) missing.push(`${p}.properties.${name}`);
          }
        });
        expect(missing).toEqual([]);
      });

      it('matches what is committed under crds/', () => {
        const committed = parse(readFileSync(join(import.meta.dirname, '..', '..', 'crds', file), 'utf8')) as unknown;
        expect(committed).toEqual(JSON.parse(JSON.stringify(crd)));
      });
    });
  }

  it('carries cross-field CEL rules, each with a message', () => {
    const rules: Array<{ rule: string; message?: string }> = [];
    for (const { crd } of allCrds()) {
      walk(schemaOf(crd), '', (n) => {
        const v = n['x-kubernetes-validations'] as Array<{ rule: string; message?: string }> | undefined;
        if (v) rules.push(...v);
      });
    }
    expect(rules.length).toBeGreaterThanOrEqual(6);
    for (const r of rules) expect(r.message, r.rule).toMatch(/\w{3,}/);
  });
});

/** The examples' namespaces, applied first by `kubectl apply -f deploy/examples/`; every other file is a deployment. */
const NAMESPACES_FILE = '00-namespaces.yaml';

describe('example manifests', () => {
  const dir = join(import.meta.dirname, '..', '..', 'deploy', 'examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== NAMESPACES_FILE);

  it('there are at least three', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  for (const file of files) {
    it(`${file} parses with the EdgeModelDeployment schema`, () => {
      const doc = parse(readFileSync(join(dir, file), 'utf8')) as unknown;
      const result = EdgeModelDeployment.safeParse(doc);
      expect(result.success, result.success ? '' : JSON.stringify(result.error.issues)).toBe(true);
    });
  }
});
