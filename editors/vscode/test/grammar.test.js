// The TextMate grammar (syntaxes/journey.tmLanguage.json) run through VS Code's own tokenizer
// (vscode-textmate with the Oniguruma regex engine) over every standard journey: every reserved
// word of the language (taken from the parser's grammar, dsl/grammar.hpp) gets a keyword scope
// where it is used as one, and names after a `.` do not; strings, comments and durations get
// theirs. Run by ctest (node --test); the tokenizer is vendored in test/vendor (CI fetches
// nothing from npm).
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..', '..');
const vendor = path.join(__dirname, 'vendor');
const textmate = require(path.join(vendor, 'vscode-textmate', 'main.js'));
const oniguruma = require(path.join(vendor, 'vscode-oniguruma', 'main.js'));

/// The reserved words, as the parser defines them: `struct k_x : TAO_PEGTL_KEYWORD("x") {};`.
function reservedWords() {
  const source = fs.readFileSync(path.join(root, 'dsl', 'grammar.hpp'), 'utf8');
  const words = [...source.matchAll(/struct k_\w+ : TAO_PEGTL_KEYWORD\("(\w+)"\)/g)].map((m) => m[1]);
  assert.strictEqual(words.length, 46, 'the parser defines 46 reserved words');
  return new Set(words);
}

async function loadGrammar() {
  const wasm = fs.readFileSync(path.join(vendor, 'vscode-oniguruma', 'onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== 'source.journey') return null;
      const file = path.join(__dirname, '..', 'syntaxes', 'journey.tmLanguage.json');
      return textmate.parseRawGrammar(fs.readFileSync(file, 'utf8'), file);
    },
  });
  return registry.loadGrammar('source.journey');
}

/// Each line's tokens: {start, end, scopes}.
function tokenize(grammar, text) {
  let state = textmate.INITIAL;
  return text.split('\n').map((line) => {
    const r = grammar.tokenizeLine(line, state);
    state = r.ruleStack;
    return r.tokens.map((t) => ({ start: t.startIndex, end: t.endIndex, scopes: t.scopes }));
  });
}

function scopesAt(tokens, column) {
  const t = tokens.find((tok) => tok.start <= column && column < tok.end);
  return t ? t.scopes : [];
}

const has = (scopes, prefix) => scopes.some((s) => s.startsWith(prefix));

/// An independent reading of a line: its comment, strings, durations and words (with whether a
/// `.` comes before them, or a `:` after them as after an object key), for the checks below.
function lexLine(line) {
  const out = { strings: [], comment: -1, durations: [], words: [] };
  for (let i = 0; i < line.length;) {
    const c = line[i];
    if (c === '#') {
      out.comment = i;
      break;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < line.length && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      out.strings.push([i, Math.min(j + 1, line.length)]);
      i = j + 1;
      continue;
    }
    const literal = /^\d+(?:\.\d+)?[A-Za-z_%:]*[\w:]*/.exec(line.slice(i));
    if (literal) {
      if (/^(?:\d+[smhdw])+$/.test(literal[0])) out.durations.push(i);
      i += literal[0].length;
      continue;
    }
    const word = /^[A-Za-z_]\w*/.exec(line.slice(i));
    if (word) {
      let k = i - 1;
      while (k >= 0 && line[k] === ' ') k -= 1;
      const named = /^\s*:/.test(line.slice(i + word[0].length));  // an object key, a label
      out.words.push({ at: i, word: word[0], afterDot: k >= 0 && line[k] === '.', named });
      i += word[0].length;
      continue;
    }
    i += 1;
  }
  return out;
}

test('every reserved word of the parser is a keyword in the grammar, wherever it stands', async () => {
  const grammar = await loadGrammar();
  for (const word of reservedWords()) {
    for (const line of [`${word}`, `  ${word} x`, `x ${word} y`]) {
      const tokens = tokenize(grammar, line)[0];
      const at = line.indexOf(word);
      assert.ok(has(scopesAt(tokens, at), 'keyword.'), `\`${word}\` in "${line}": ${scopesAt(tokens, at)}`);
    }
    // ... but not after a `.`, where any name is a property.
    const property = `customer.${word}`;
    const scopes = scopesAt(tokenize(grammar, property)[0], property.length - 1);
    assert.ok(!has(scopes, 'keyword.') && has(scopes, 'variable.other.property'),
              `\`${property}\`: ${scopes}`);
  }
});

test('the standard journeys: keywords, properties, strings, comments and durations', async () => {
  const grammar = await loadGrammar();
  const reserved = reservedWords();
  const dir = path.join(root, 'stdlib-journeys');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.journey')).sort();
  assert.ok(files.length >= 10, 'the standard journeys are there');
  const seen = new Set();
  const counts = { keywords: 0, strings: 0, comments: 0, durations: 0 };
  for (const file of files) {
    const lines = fs.readFileSync(path.join(dir, file), 'utf8').split('\n');
    const tokens = tokenize(grammar, lines.join('\n'));
    lines.forEach((line, n) => {
      const where = `${file}:${n + 1}`;
      const lex = lexLine(line);
      if (lex.comment >= 0) {
        counts.comments += 1;
        for (let col = lex.comment; col < line.length; col += 1) {
          assert.ok(has(scopesAt(tokens[n], col), 'comment.line.number-sign'), `${where}:${col + 1}: comment`);
        }
      }
      for (const [begin, end] of lex.strings) {
        counts.strings += 1;
        for (let col = begin; col < end; col += 1) {
          assert.ok(has(scopesAt(tokens[n], col), 'string.quoted.double'), `${where}:${col + 1}: string`);
        }
      }
      for (const col of lex.durations) {
        counts.durations += 1;
        assert.ok(has(scopesAt(tokens[n], col), 'constant.numeric.duration'), `${where}:${col + 1}: duration`);
      }
      for (const w of lex.words) {
        const scopes = scopesAt(tokens[n], w.at);
        if (w.afterDot || w.named) {
          assert.ok(!has(scopes, 'keyword.'), `${where}:${w.at + 1}: \`${w.word}\` is a name here: ${scopes}`);
        } else if (reserved.has(w.word)) {
          counts.keywords += 1;
          seen.add(w.word);
          assert.ok(has(scopes, 'keyword.'), `${where}:${w.at + 1}: \`${w.word}\`: ${scopes}`);
        }
      }
    });
  }
  // The checks above saw real material.
  assert.ok(counts.keywords > 300 && counts.strings > 50 && counts.comments > 50 && counts.durations > 20,
            JSON.stringify(counts));
  assert.ok(seen.size >= 30, `reserved words used by the standard journeys: ${[...seen].join(' ')}`);
});
