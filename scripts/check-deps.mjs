#!/usr/bin/env node
// The layering rule, checked by a tool rather than by review:
// - src/domain imports nothing but itself;
// - src/processors (the pure core) calls no clock or random source and imports only src/domain, itself, rxjs and simple-statistics;
// - koffi only in src/gpu, kafkajs and the registry client only in src/kafka, ioredis and prom-client
//   only in src/projections (and src/services, which wires them).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const src = join(root, 'src');

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
const ownedBy = { koffi: ['gpu'], kafkajs: ['kafka'], '@kafkajs/confluent-schema-registry': ['kafka'], ioredis: ['projections', 'services'], 'prom-client': ['projections', 'services'] };
const violations = [];

for (const file of files(src)) {
  const layer = relative(src, file).split('/')[0];
  const text = readFileSync(file, 'utf8');
  if (layer === 'processors' || layer === 'domain') {
    // Determinism: time and randomness enter as arguments, never from the ambient environment.
    const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    for (const banned of ['Date.now(', 'new Date(', 'Math.random(', 'setTimeout(', 'setInterval(', 'performance.now(']) {
      if (code.includes(banned)) violations.push(`${relative(root, file)}: the pure core calls ${banned.slice(0, -1)}`);
    }
  }
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2];
    const rel = relative(root, file);
    if (spec.startsWith('.')) {
      const target = relative(src, resolve(dirname(file), spec)).split('/')[0];
      if (layer === 'domain' && target !== 'domain') violations.push(`${rel}: domain imports ${spec}`);
      if (layer === 'processors' && !['processors', 'domain'].includes(target)) violations.push(`${rel}: the pure core imports ${spec}`);
      continue;
    }
    const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
    if (layer === 'domain') violations.push(`${rel}: domain imports ${spec}`);
    if (layer === 'processors' && !['rxjs', 'simple-statistics'].includes(pkg)) violations.push(`${rel}: the pure core imports ${spec}`);
    if (ownedBy[pkg] && !ownedBy[pkg].includes(layer)) violations.push(`${rel}: ${pkg} may only be imported in src/${ownedBy[pkg].join(' or src/')}`);
  }
}

if (violations.length > 0) {
  console.error(`dependency check: ${violations.length} violation(s)\n` + violations.map((v) => `  ${v}`).join('\n'));
  process.exit(1);
}
console.log('dependency check: layering holds');
