// End-to-end: the npm `openwhisk` client (3.21.x) against a running wisp-standalone.
//
//   __OW_API_HOST=http://127.0.0.1:<port> __OW_API_KEY=<uuid:key> \
//   NODE_PATH=.cache/npm/node_modules node tests/e2e/openwhisk_client_test.js
//
// Started by openwhisk_client_e2e_test (ctest label e2e), which starts the standalone first.
// Exits 0 when every step passes, 1 with the failing step and its error otherwise.
'use strict';

const assert = require('assert');
const openwhisk = require('openwhisk');

const ow = openwhisk();  // __OW_API_HOST and __OW_API_KEY from the environment
const suffix = `${process.pid}-${Date.now()}`;
const names = {
  action: `npm-hello-${suffix}`,
  trigger: `npm-trigger-${suffix}`,
  rule: `npm-rule-${suffix}`,
  feed: `npm-feed-${suffix}`,
};

const v1 = "def main(args):\n    return {'greeting': 'Hello ' + args.get('name', 'stranger')}\n";
const v2 = "def main(args):\n    print('log line from ' + args.get('name', 'nobody'))\n" +
    "    return {'greeting': args.get('salute', 'Hello') + ' ' + args.get('name', 'stranger')," +
    " 'fired': args.get('fired', False)}\n";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `fn` until it resolves to something truthy (records are stored asynchronously). */
async function eventually(what, fn, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
}

let step = 'start';
async function run(name, fn) {
  step = name;
  const t0 = Date.now();
  const v = await fn();
  console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  return v;
}

async function main() {
  // ---- actions ----
  const created = await run('actions.create', () =>
    ow.actions.create({name: names.action, action: v1, kind: 'python:3.11'}));
  assert.strictEqual(created.name, names.action);
  assert.strictEqual(created.namespace, 'guest');
  assert.strictEqual(created.version, '0.0.1');
  assert.strictEqual(created.exec.kind, 'python:3.11');

  await run('actions.create twice is a 409', async () => {
    await assert.rejects(
        ow.actions.create({name: names.action, action: v1, kind: 'python:3.11'}), (err) => {
          assert.strictEqual(err.statusCode, 409);
          assert.match(err.message, /resource already exists/);
          return true;
        });
  });

  const updated = await run('actions.update', () => ow.actions.update({
    name: names.action,
    action: v2,
    kind: 'python:3.11',
    params: {salute: 'Hi'},
    limits: {timeout: 10000},
  }));
  assert.strictEqual(updated.version, '0.0.2');
  assert.strictEqual(updated.limits.timeout, 10000);
  assert.deepStrictEqual(updated.parameters, [{key: 'salute', value: 'Hi'}]);

  const got = await run('actions.get', () => ow.actions.get({name: names.action}));
  assert.strictEqual(got.exec.code, v2);

  const result = await run('actions.invoke blocking result', () =>
    ow.actions.invoke({name: names.action, blocking: true, result: true, params: {name: 'npm'}}));
  assert.deepStrictEqual(result, {greeting: 'Hi npm', fired: false});

  const record = await run('actions.invoke blocking', () =>
    ow.actions.invoke({name: names.action, blocking: true, params: {name: 'record'}}));
  assert.strictEqual(record.name, names.action);
  assert.strictEqual(record.response.success, true);
  assert.strictEqual(record.response.status, 'success');
  assert.deepStrictEqual(record.response.result, {greeting: 'Hi record', fired: false});
  assert.match(record.activationId, /^[0-9a-f]{32}$/);

  const queued = await run('actions.invoke non-blocking', () =>
    ow.actions.invoke({name: names.action}));
  assert.match(queued.activationId, /^[0-9a-f]{32}$/);

  const listed = await run('actions.list', () => ow.actions.list({limit: 200}));
  assert.ok(Array.isArray(listed));
  const entry = listed.find((a) => a.name === names.action);
  assert.ok(entry, `${names.action} not in actions.list`);
  assert.strictEqual(entry.version, '0.0.2');

  await run('actions.get of a missing action is a 404', async () => {
    await assert.rejects(ow.actions.get({name: `missing-${suffix}`}), (err) => {
      assert.strictEqual(err.statusCode, 404);
      assert.match(err.message, /The requested resource does not exist\./);
      return true;
    });
  });

  // ---- trigger, rule, fire ----
  const trigger = await run('triggers.create', () => ow.triggers.create({
    name: names.trigger,
    trigger: {parameters: [{key: 'fired', value: true}]},
  }));
  assert.strictEqual(trigger.name, names.trigger);

  const rule = await run('rules.create', () =>
    ow.rules.create({name: names.rule, trigger: names.trigger, action: names.action}));
  assert.strictEqual(rule.name, names.rule);
  assert.strictEqual(rule.status, 'active');
  assert.strictEqual(rule.trigger.name, names.trigger);
  assert.strictEqual(rule.action.name, names.action);

  const fired = await run('triggers.invoke', () =>
    ow.triggers.invoke({name: names.trigger, params: {name: 'trigger'}}));
  assert.match(fired.activationId, /^[0-9a-f]{32}$/);

  const triggerRecord = await run('activations.get (trigger)', () =>
    eventually('the trigger activation', () => ow.activations.get(fired.activationId)));
  assert.strictEqual(triggerRecord.name, names.trigger);
  assert.strictEqual(triggerRecord.logs.length, 1);
  const link = JSON.parse(triggerRecord.logs[0]);
  assert.strictEqual(link.success, true);
  assert.strictEqual(link.action, `guest/${names.action}`);
  assert.strictEqual(link.rule, `guest/${names.rule}`);

  const ruleActivation = await run('rule action activation found', () =>
    eventually('the rule action activation', async () => {
      const list = await ow.activations.list({name: names.action, limit: 50, docs: true});
      return list.find((a) => a.activationId === link.activationId);
    }));
  assert.deepStrictEqual(ruleActivation.response.result, {greeting: 'Hi trigger', fired: true});

  // ---- activations ----
  // Every activation of the action is stored before listing: the non-blocking one may still be
  // running (it can finish after the rule's), and a record landing between the two lists below
  // would shift the page that `skip` reads.
  await run('activations.get (non-blocking)', () =>
    eventually('the non-blocking activation', () => ow.activations.get(queued.activationId)));
  const activations = await run('activations.list', () =>
    ow.activations.list({name: names.action, limit: 10}));
  assert.ok(activations.length >= 3, `expected >= 3 activations, got ${activations.length}`);
  for (const a of activations) assert.strictEqual(a.name, names.action);
  const ids = activations.map((a) => a.activationId);
  assert.ok(ids.includes(record.activationId));
  const skipped = await ow.activations.list({name: names.action, limit: 1, skip: 1});
  assert.strictEqual(skipped.length, 1);
  assert.strictEqual(skipped[0].activationId, activations[1].activationId);

  const one = await run('activations.get', () => ow.activations.get(record.activationId));
  assert.strictEqual(one.activationId, record.activationId);
  assert.deepStrictEqual(one.response.result, {greeting: 'Hi record', fired: false});

  const res = await run('activations.result', () => ow.activations.result(record.activationId));
  assert.deepStrictEqual(res.result, {greeting: 'Hi record', fired: false});
  assert.strictEqual(res.success, true);
  assert.strictEqual(res.status, 'success');

  const logs = await run('activations.logs', () => ow.activations.logs(record.activationId));
  assert.ok(Array.isArray(logs.logs));
  assert.ok(logs.logs.some((l) => l.includes('log line from record')),
      `log line missing: ${JSON.stringify(logs.logs)}`);

  // ---- feeds (lib/feeds.js): the client invokes the feed action itself (blocking) ----
  // A user-written feed whose result is the parameters it received; it refuses CREATE with `fail`.
  const feedCode = 'def main(args):\n' +
      "    if args.get('lifecycleEvent') == 'CREATE' and args.get('fail'):\n" +
      "        return {'error': {'error': 'cannot watch ' + str(args.get('fail'))}}\n" +
      '    return args\n';
  await run('actions.create (a feed action)', () => ow.actions.create({
    name: names.feed,
    action: feedCode,
    kind: 'python:3.11',
    annotations: [{key: 'feed', value: true}],
  }));
  for (const [verb, event] of
    [['create', 'CREATE'], ['get', 'READ'], ['update', 'UPDATE'], ['delete', 'DELETE']]) {
    const rec = await run(`feeds.${verb}`, () =>
      ow.feeds[verb]({name: names.feed, trigger: names.trigger, params: {colour: verb}}));
    assert.strictEqual(rec.response.success, true);
    assert.strictEqual(rec.response.result.lifecycleEvent, event);
    assert.strictEqual(rec.response.result.triggerName, `/_/${names.trigger}`);
    assert.strictEqual(rec.response.result.authKey, process.env.__OW_API_KEY);
    assert.strictEqual(rec.response.result.colour, verb);
  }
  await run('feeds.create refused by the feed is a 502 with its error', async () => {
    await assert.rejects(
        ow.feeds.create({name: names.feed, trigger: names.trigger, params: {fail: 'bucket-x'}}),
        (err) => {
          assert.strictEqual(err.statusCode, 502);
          assert.strictEqual(err.error.response.result.error.error, 'cannot watch bucket-x');
          return true;
        });
  });
  await run('actions.delete (the feed action)', () => ow.actions.delete({name: names.feed}));

  // ---- the built-in alarms feed through the same resource (the trigger must exist first) ----
  const alarmTrigger = `${names.trigger}-alarm`;
  await run('triggers.create (for an alarm)', () => ow.triggers.create({name: alarmTrigger}));
  const alarmFeed = '/whisk.system/alarms/alarm';
  const made = await run('feeds.create /whisk.system/alarms/alarm', () => ow.feeds.create(
      {name: alarmFeed, trigger: alarmTrigger, params: {cron: '0 0 1 1 *', trigger_payload: {x: 1}}}));
  assert.strictEqual(made.response.success, true);
  assert.deepStrictEqual(made.response.result, {status: 'success'});
  const read = await run('feeds.get (alarm READ)', () =>
    ow.feeds.get({name: alarmFeed, trigger: alarmTrigger}));
  assert.strictEqual(read.response.result.config.cron, '0 0 1 1 *');
  assert.strictEqual(read.response.result.config.name, alarmTrigger);
  assert.deepStrictEqual(read.response.result.config.payload, {x: 1});
  assert.strictEqual(read.response.result.status.active, true);
  await run('feeds.create with a bad cron is refused with the provider\'s text', async () => {
    await assert.rejects(
        ow.feeds.create({name: alarmFeed, trigger: alarmTrigger, params: {cron: '61 * * * *'}}),
        (err) => {
          assert.strictEqual(err.statusCode, 502);
          assert.strictEqual(err.error.response.result.error.error,
              "cron pattern '61 * * * *' is not valid");
          return true;
        });
  });
  await run('feeds.delete (alarm DELETE)', () =>
    ow.feeds.delete({name: alarmFeed, trigger: alarmTrigger}));
  await run('feeds.get after the delete fails', async () => {
    await assert.rejects(ow.feeds.get({name: alarmFeed, trigger: alarmTrigger}),
        (err) => err.statusCode === 502);
  });
  await run('triggers.delete (the alarm\'s)', () => ow.triggers.delete({name: alarmTrigger}));

  // ---- API routes (routes resource → whisk.system/apimgmt; served by the platform) ----
  const webAction = `${names.action}-web`;
  const club = `/club-${suffix}`;
  await run('actions.create (a web action for a route)', () => ow.actions.create({
    name: webAction, kind: 'python:3.11',
    action: "def main(args):\n    return {'statusCode': 200, 'body': {'id': args.get('id'),\n" +
        "        'name': args.get('name'), 'path': args.get('__ow_path')}}\n",
    annotations: {'web-export': true}}));
  const route = await run('routes.create (a path parameter, responsetype http)', () =>
    ow.routes.create({basepath: club, relpath: '/books/{id}', operation: 'GET', action: webAction,
      responsetype: 'http'}));
  assert.strictEqual(route.gwApiActivated, true);
  assert.strictEqual(route.apidoc.basePath, club);
  assert.strictEqual(route.apidoc.paths['/books/{id}'].get['x-openwhisk'].action, webAction);
  // The route's URL on the host the client talks to (gwApiUrl names the platform's api_host).
  if (process.env.__OW_IGNORE_CERTS === 'true') process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  const routeUrl = new URL(process.env.__OW_API_HOST).origin + new URL(route.gwApiUrl).pathname +
      '/books/978-0596?name=ann';
  await run('GET through the route (path parameter and query, no key)', async () => {
    const res = await fetch(routeUrl);
    assert.strictEqual(res.status, 200);
    const body = await res.json();
    assert.strictEqual(body.id, '978-0596');
    assert.strictEqual(body.name, 'ann');
    assert.strictEqual(body.path, `${club}/books/978-0596`);
  });
  const routesListed = await run('routes.list', () => ow.routes.list({basepath: club}));
  assert.strictEqual(routesListed.apis.length, 1);
  assert.ok(routesListed.apis[0].value.gwApiUrl.endsWith(club));
  const all = await run('routes.list (all)', () => ow.routes.list());
  assert.ok(all.apis.some((a) => a.value.apidoc.basePath === club));
  await run('routes.delete', () => ow.routes.delete({basepath: club}));
  await run('GET through the route after the delete is 404', async () => {
    const res = await fetch(routeUrl);
    assert.strictEqual(res.status, 404);
  });
  const none = await run('routes.list after the delete', () => ow.routes.list({basepath: club}));
  assert.strictEqual(none.apis.length, 0);
  await run('actions.delete (the web action)', () => ow.actions.delete({name: webAction}));

  // ---- clean up ----
  await run('rules.disable', () => ow.rules.disable({name: names.rule}));
  await run('rules.delete', () => ow.rules.delete({name: names.rule}));
  await run('triggers.delete', () => ow.triggers.delete({name: names.trigger}));
  const deleted = await run('actions.delete', () => ow.actions.delete({name: names.action}));
  assert.strictEqual(deleted.name, names.action);
}

main().then(
    () => {
      console.log('openwhisk client e2e: all steps passed');
      process.exit(0);
    },
    (err) => {
      console.error(`FAILED at step "${step}": ${err && err.stack ? err.stack : err}`);
      if (err && err.error) console.error(`response body: ${JSON.stringify(err.error)}`);
      process.exit(1);
    });
