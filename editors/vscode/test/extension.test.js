// The extension against a stand-in of VS Code's API: what it hands the language client (the
// server command `journey lsp`, the documents, the settings the server reads), and that a new
// `journey.path` restarts the server. Run by ctest with the grammar test.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const Module = require('node:module');

function fakeVscode(config) {
  const listeners = [];
  return {
    listeners,
    workspace: {
      getConfiguration: (section) => {
        assert.strictEqual(section, 'journey');
        return { get: (key, fallback) => (key in config ? config[key] : fallback) };
      },
      createFileSystemWatcher: (glob) => ({ glob }),
      onDidChangeConfiguration: (listener) => {
        listeners.push(listener);
        return { dispose() {} };
      },
    },
    window: { showErrorMessage: (message) => { throw new Error(message); } },
  };
}

function load(config) {
  const vscode = fakeVscode(config);
  const clients = [];
  class LanguageClient {
    constructor(id, name, server, options) {
      Object.assign(this, { id, name, server, options, started: 0, stopped: 0 });
      clients.push(this);
    }
    async start() { this.started += 1; }
    async stop() { this.stopped += 1; }
  }
  const original = Module._load;
  Module._load = function (request, ...rest) {
    if (request === 'vscode') return vscode;
    if (request === 'vscode-languageclient/node') return { LanguageClient };
    return original.call(this, request, ...rest);
  };
  try {
    const path = require.resolve('../extension.js');
    delete require.cache[path];
    return { extension: require(path), vscode, clients };
  } finally {
    Module._load = original;
  }
}

test('the extension starts `journey lsp` with the settings the server reads', async () => {
  const { extension, vscode, clients } = load({ path: '/opt/journey', plan: 'plan.json', channels: ['email'] });
  const context = { subscriptions: [] };
  await extension.activate(context);
  assert.strictEqual(clients.length, 1);
  const client = clients[0];
  assert.deepStrictEqual(client.server, { command: '/opt/journey', args: ['lsp'] });
  assert.deepStrictEqual(client.options.documentSelector.map((s) => s.language), ['journey', 'journey']);
  assert.deepStrictEqual(client.options.initializationOptions, { plan: 'plan.json', channels: ['email'] });
  assert.strictEqual(client.options.synchronize.configurationSection, 'journey');
  assert.match(client.options.synchronize.fileEvents.glob, /\*\.journey/);
  assert.match(client.options.synchronize.fileEvents.glob, /\.journeyrc/);
  assert.strictEqual(client.started, 1);

  // A change of journey.path restarts the server; other settings go to it as they are.
  await vscode.listeners[0]({ affectsConfiguration: (key) => key === 'journey.plan' });
  assert.strictEqual(clients.length, 1);
  await vscode.listeners[0]({ affectsConfiguration: (key) => key === 'journey.path' });
  assert.strictEqual(client.stopped, 1);
  assert.strictEqual(clients.length, 2);
  assert.strictEqual(clients[1].started, 1);
  await extension.deactivate();
  assert.strictEqual(clients[1].stopped, 1);
});

test('without settings the server is `journey` on PATH', async () => {
  const { extension, clients } = load({});
  await extension.activate({ subscriptions: [] });
  assert.deepStrictEqual(clients[0].server, { command: 'journey', args: ['lsp'] });
  assert.deepStrictEqual(clients[0].options.initializationOptions, { plan: '', channels: [] });
});
