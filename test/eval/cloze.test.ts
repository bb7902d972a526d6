import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildClozeTask } from '../../src/eval/cloze.js';
import { brownTexts } from '../train/fixture-run.js';

const docs = brownTexts(30, 100).map((text, i) => ({ id: `brown:${i}`, text }));
const opts = { passages: 12, contextWords: 60, minContextWords: 20, seed: 3 };

test('held-out cloze: sentence-final target words, passages of bounded length, deterministic and order-free', () => {
  const a = buildClozeTask(docs, opts);
  assert.equal(a.task.kind, 'cloze');
  assert.equal(a.task.items.length, 12);
  assert.equal(a.docsUnused + a.docsWithoutTarget + 12, docs.length);
  for (const item of a.task.items) {
    const doc = docs.find((d) => item.id.startsWith(`${d.id}@`))!;
    const at = Number(item.id.slice(doc.id.length + 1));
    const word = item.choices[0]!;
    assert.match(word, /^ [A-Za-z]{3,}$/);
    assert.equal(item.gold, 0);
    // The passage is the text just before the word; the word ends a sentence in the document.
    assert.equal(doc.text.slice(at - 1, at + word.length - 1), word);
    assert.ok(doc.text.slice(0, at - 1).endsWith(item.context));
    assert.match(doc.text[at + word.length - 1]!, /[.!?]/);
    const words = item.context.split(/\s+/).filter((w) => w !== '').length;
    assert.ok(words >= 20 && words <= 60, `${words} context words`);
  }
  // Same seed, shuffled document order: the same items. Another seed: other items.
  const shuffled = [...docs].reverse();
  assert.deepEqual(buildClozeTask(shuffled, opts).task.items.map((i) => i.id), a.task.items.map((i) => i.id));
  const other = buildClozeTask(docs, { ...opts, seed: 4 }).task.items.map((i) => i.id);
  assert.notDeepEqual(other, a.task.items.map((i) => i.id));
  // Documents without a usable target are passed over and counted.
  const short = buildClozeTask([{ id: 'x', text: 'Too short.' }, ...docs.slice(0, 2)], { ...opts, passages: 3 });
  assert.equal(short.task.items.length, 2);
  assert.equal(short.docsWithoutTarget, 1);
});
