'use strict';
// Wisp's Node.js launcher: keeps one Node.js process warm for every activation of a container.
//
// Started by wisp-action-proxy as
//     node launcher.js <action_dir> <main> <source|archive> [--concurrent]
// or, as a zygote at container start (before /init), as
//     node launcher.js --zygote
// with its stdin and fd 3 piped to the proxy and its stdout/stderr shared with the container.
// Line protocol (runtimes/README.md):
//   * zygote only: the first stdin line is the load order
//     {"argv":["<action_dir>","<main>","<source|archive>",...],"env":[["NAME","value"],...]}:
//     process.argv gets argv after the script and the /init env is set, {"loading":true} goes
//     to fd 3 (the order was taken; none of the action's code has run), then it goes on as if
//     started so;
//   * once the action is loaded: {"ok":true} on fd 3, or {"ok":false,"error":"..."} and exit 1;
//   * per stdin line (a /run body): every key but "value" becomes process.env.__OW_<KEY>,
//     main(value) runs (a promise is awaited), JSON.stringify(result) + "\n" goes to fd 3.
//     A thrown error or a rejected promise becomes {"error": <message>} (stack on stderr).
//   * --concurrent: lines are "<seq> <json>" both ways and activations overlap.

const fs = require('fs');
const path = require('path');
const Module = require('module');
const vm = require('vm');
const { pathToFileURL } = require('url');

// Zygote: blocks (nothing else is pending yet) until the proxy sends the code's location at
// /init. The proxy writes nothing more before the ready line, so no byte after '\n' is lost.
function awaitLoadOrder() {
  const chunks = [];
  const chunk = Buffer.alloc(65536);
  for (;;) {
    let n;
    try {
      n = fs.readSync(0, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN' || e.code === 'EINTR') continue;
      throw e;
    }
    if (n === 0) process.exit(0);
    chunks.push(Buffer.from(chunk.subarray(0, n)));
    if (chunk.subarray(0, n).includes(10)) break;
  }
  const order = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  process.argv.splice(2, process.argv.length - 2, ...order.argv);
  for (const [name, value] of order.env) process.env[name] = value;
  // Taken, before any of the action's code runs: a zygote that dies before this line is
  // replaced by a fresh process; after it, its death is the action's failure.
  fs.writeSync(3, '{"loading":true}\n');
}
if (process.argv.length === 3 && process.argv[2] === '--zygote') {
  // What reading process.stdin loads later (~15 ms of Node's own modules), done while waiting;
  // Node's modules are not in require.cache.
  require('net');
  awaitLoadOrder();
}

const [actionDir, mainName = 'main', mode = 'source', ...flags] = process.argv.slice(2);
const concurrent = flags.includes('--concurrent');

// The result pipe, reopened close-on-exec so that processes the action starts do not hold it.
const resultFd = (() => {
  try {
    const fd = fs.openSync('/proc/self/fd/3', fs.constants.O_WRONLY);
    fs.closeSync(3);
    return fd;
  } catch (e) {
    return 3;
  }
})();

function writeLine(text) {
  const buf = Buffer.from(text + '\n', 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(resultFd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

function assertFunction(handler) {
  if (typeof handler !== 'function') {
    throw `Action entrypoint '${mainName}' is not a function.`;  // a string, as in OpenWhisk
  }
  return handler;
}

async function loadSource() {
  if (!/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/.test(mainName)) {
    throw `Action entrypoint '${mainName}' is not a valid name.`;
  }
  const filename = path.join(actionDir, 'index.js');
  const code = fs.readFileSync(filename, 'utf8');
  const mod = new Module(filename, null);
  mod.filename = filename;
  mod.paths = Module._nodeModulePaths(actionDir);
  const requireFn = Module.createRequire(filename);
  // Like OpenWhisk: the code runs as a function body; main is a top-level binding or an export.
  const body = `${code}\n;try { return ${mainName}; } catch (e) {\n` +
    `  if (e instanceof ReferenceError) return module.exports.${mainName} || exports.${mainName};\n` +
    '  throw e;\n}';
  const fn = vm.compileFunction(body, ['exports', 'require', 'module', '__filename', '__dirname'],
    { filename });
  return assertFunction(fn.call(mod.exports, mod.exports, requireFn, mod, filename, actionDir));
}

async function loadArchive() {
  // "index.main" = module "index", function "main"; "main" = package.json's module or index.js.
  const dot = mainName.indexOf('.');
  const index = dot > 0 ? mainName.slice(0, dot) : undefined;
  const fnPath = dot > 0 ? mainName.slice(dot + 1) : mainName;
  if (index === undefined && !fs.existsSync(path.join(actionDir, 'package.json')) &&
      !fs.existsSync(path.join(actionDir, 'index.js'))) {
    throw 'Zipped actions must contain either package.json or index.js at the root.';
  }
  const what = index !== undefined ? path.join(actionDir, index) : actionDir;
  let mod;
  try {
    mod = require(what);
  } catch (e) {
    if (e.code !== 'ERR_REQUIRE_ESM') throw e;
    mod = await import(pathToFileURL(require.resolve(what)).href);  // "type": "module"
  }
  const handler = fnPath.split('.').reduce((o, k) => (o == null ? undefined : o[k]), mod);
  return assertFunction(handler);
}

// A stack without the frames of this launcher and of Node.js internals.
function cleanStack(e) {
  if (!(e instanceof Error) || !e.stack) return String(e);
  return String(e.stack).split('\n')
    .filter((l) => !/^\s+at /.test(l) || !(l.includes(__filename) || l.includes('(node:') ||
      /at node:/.test(l)))
    .join('\n');
}

function errorValue(e) {
  if (e instanceof Error) return e.message;
  if (e === undefined || e === null) return {};
  return e;
}

let previousEnv = new Set();

async function runOne(handler, line) {
  let args;
  try {
    args = JSON.parse(line);
  } catch (e) {
    return JSON.stringify({ error: `The launcher received invalid JSON: ${e.message}` });
  }
  const currentEnv = new Set();
  for (const [key, value] of Object.entries(args)) {
    if (key === 'value') continue;
    const name = `__OW_${key.toUpperCase()}`;
    const text = typeof value === 'string' ? value
      : value === null || value === undefined ? '' : JSON.stringify(value);
    if (process.env[name] !== text) process.env[name] = text;  // setenv only what changed
    currentEnv.add(name);
  }
  for (const stale of previousEnv) {
    if (!currentEnv.has(stale)) delete process.env[stale];
  }
  previousEnv = currentEnv;

  let result;
  try {
    result = await handler(args.value === undefined || args.value === null ? {} : args.value);
    if (result === undefined) result = {};
  } catch (e) {
    console.error(cleanStack(e));
    result = { error: errorValue(e) };
  }
  let text;
  try {
    text = JSON.stringify(result);
  } catch (e) {
    text = JSON.stringify({ error: `The action returned a value that is not JSON: ${e.message}` });
  }
  return text === undefined ? 'null' : text;
}

function serve(handler) {
  const queue = [];
  let busy = false;
  const pump = () => {
    if (busy || queue.length === 0) return;
    busy = true;
    runOne(handler, queue.shift().toString('utf8')).then((text) => {
      writeLine(text);
      busy = false;
      pump();
    });
  };
  const handleLine = (line) => {
    if (!concurrent) {
      queue.push(line);
      pump();
      return;
    }
    const space = line.indexOf(32);
    const seq = line.subarray(0, space).toString('latin1');
    runOne(handler, line.subarray(space + 1).toString('utf8'))
      .then((text) => writeLine(`${seq} ${text}`));
  };

  let parts = [];
  process.stdin.on('data', (chunk) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) {
        if (start < chunk.length) parts.push(chunk.subarray(start));
        return;
      }
      parts.push(chunk.subarray(start, nl));
      const line = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      parts = [];
      handleLine(line);
      start = nl + 1;
    }
  });
  process.stdin.on('end', () => process.exit(0));
}

(async () => {
  let handler;
  try {
    process.chdir(actionDir);
    handler = mode === 'archive' ? await loadArchive() : await loadSource();
  } catch (e) {
    const text = cleanStack(e);
    console.error(`Error during initialization: ${text}`);
    writeLine(JSON.stringify({ ok: false, error: `Initialization has failed due to: ${text}` }));
    process.exit(1);
  }
  writeLine(JSON.stringify({ ok: true }));
  serve(handler);
})();
