// The Journey extension: starts `journey lsp` (the `journey.path` setting) for .journey files and
// hands it the settings `journey.plan` and `journey.channels`. Everything else (errors as you
// type, completion, hover, navigation, rename, formatting, quick fixes) is the server's.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function settings() {
  const config = vscode.workspace.getConfiguration('journey');
  return { plan: config.get('plan', ''), channels: config.get('channels', []) };
}

async function start() {
  const command = vscode.workspace.getConfiguration('journey').get('path', 'journey') || 'journey';
  client = new LanguageClient(
    'journey',
    'Journey',
    { command, args: ['lsp'] },
    {
      documentSelector: [
        { scheme: 'file', language: 'journey' },
        { scheme: 'untitled', language: 'journey' },
      ],
      initializationOptions: settings(),
      synchronize: {
        // Sent as workspace/didChangeConfiguration: {"journey": {"plan": ..., "channels": ...}}.
        configurationSection: 'journey',
        // Journeys, project files and plans changed outside the editor.
        fileEvents: vscode.workspace.createFileSystemWatcher(
          '**/{*.journey,.journeyrc,journey.toml,*.json,*.toml}'),
      },
    });
  try {
    await client.start();
  } catch (error) {
    vscode.window.showErrorMessage(
      `Journey: could not start \`${command} lsp\` (${error.message}). ` +
      'Install journey, or set "journey.path" to the journey program.');
  }
}

async function activate(context) {
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration(async (event) => {
    if (!event.affectsConfiguration('journey.path')) return;
    if (client) await client.stop();
    await start();
  }));
  await start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
