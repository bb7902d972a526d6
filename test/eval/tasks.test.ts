import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../src/common/errors.js';
import { Rng } from '../../src/sample/rng.js';
import { readTaskFile, scoreTask, type Task } from '../../src/eval/tasks.js';
import { tempDir } from '../helpers.js';
import { SENTENCES, UnigramModel, WordVocabulary, overfitModel } from './fixture.js';

const dir = tempDir('sbp-eval-tasks-');
function writeTask(name: string, lines: unknown[]): string {
  const path = join(dir, `${name}.jsonl`);
  writeFileSync(path, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return path;
}

test('a memorised text: gold continuations score 100%, shuffled golds score exactly their chance matches, cloze words are greedy', async () => {
  const { model, vocab, finalLoss } = await overfitModel();
  assert.ok(finalLoss < 0.5, `the model memorised the sentences (final loss ${finalLoss})`);
  const pieces = SENTENCES.map((s) => WordVocabulary.pieces(s));
  // Context: the first k words of sentence i; choices: the rest of sentence i and of three others.
  const items: { context: string; choices: string[]; gold: number; id: string }[] = [];
  for (const k of [3, 5]) {
    pieces.forEach((p, i) => {
      const others = [1, 4, 7].map((d) => pieces[(i + d) % pieces.length]!);
      const gold = (i + k) % 4;
      const rests = others.map((o) => o.slice(k).join(''));
      rests.splice(gold, 0, p.slice(k).join(''));
      items.push({ context: p.slice(0, k).join(''), choices: rests, gold, id: `s${i}k${k}` });
    });
  }
  const opts = { window: 48, batchTokens: 512 };
  const task = readTaskFile(writeTask('memorised', items));
  assert.equal(task.kind, 'multiple-choice');
  const scores = await scoreTask(model, task, vocab.encode, opts);
  const acc = scores.reduce((a, s) => a + s.correct, 0) / scores.length;
  const accNorm = scores.reduce((a, s) => a + s.correctNorm!, 0) / scores.length;
  console.log(`# memorised task: acc ${acc}, acc_norm ${accNorm} over ${scores.length} items`);
  assert.equal(acc, 1);
  assert.equal(accNorm, 1);

  // Shuffled golds: the model still picks the true continuation, so an item counts only where the
  // random gold happens to land on it — accuracy is exactly that rate, near chance (1/4).
  const rng = new Rng(11);
  const shuffled = items.map((it) => ({ ...it, gold: rng.int(it.choices.length) }));
  const matches = shuffled.filter((it, i) => it.gold === items[i]!.gold).length;
  const sScores = await scoreTask(model, readTaskFile(writeTask('shuffled', shuffled)), vocab.encode, opts);
  const sAcc = sScores.reduce((a, s) => a + s.correct, 0) / sScores.length;
  assert.equal(sAcc, matches / items.length);
  assert.ok(sAcc > 0.05 && sAcc < 0.5, `shuffled accuracy ${sAcc} is near chance`);

  // Cloze: the next word of a memorised sentence is the greedy prediction; a wrong word is not.
  const cloze: Task = {
    name: 'words',
    kind: 'cloze',
    items: pieces.flatMap((p, i) => [
      { id: `w${i}`, context: p.slice(0, 4).join(''), choices: [p[4]!], gold: 0, where: `w${i}` },
      { id: `x${i}`, context: p.slice(0, 4).join(''), choices: [pieces[(i + 1) % pieces.length]![4]!], gold: 0, where: `x${i}` },
    ]),
  };
  const c = await scoreTask(model, cloze, vocab.encode, opts);
  const right = c.filter((s) => s.id.startsWith('w'));
  const wrong = c.filter((s) => s.id.startsWith('x'));
  assert.ok(right.every((s) => s.correct === 1), `greedy on every memorised word: ${right.map((s) => s.correct).join('')}`);
  assert.ok(wrong.every((s, i) => s.correct === 0 || pieces[i]![4] === pieces[(i + 1) % pieces.length]![4]));
  assert.ok(right.every((s, i) => s.goldLogProb > wrong[i]!.goldLogProb || pieces[i]![4] === pieces[(i + 1) % pieces.length]![4]));
});

// A context-free model with known probabilities: ids 3.. are the letters a, b, c, d.
const P = [0.01, 0.01, 0.01, 0.6, 0.05, 0.2, 0.12];
const letters = (text: string) => Int32Array.from(text, (ch) => 3 + ch.charCodeAt(0) - 97);
const lp = (text: string) => [...text].reduce((a, ch) => a + Math.log(P[3 + ch.charCodeAt(0) - 97]!), 0);

test('length normalisation: a long likely choice loses on the sum and wins per byte; sums are exact', async () => {
  const lm = new UnigramModel(P);
  const task: Task = {
    name: 'norm',
    kind: 'multiple-choice',
    items: [
      // sum: log .05 = −3.00 beats 10·log .6 = −5.11; per byte: −0.51 beats −3.00
      { id: 'long-gold', context: 'cc', choices: ['b', 'aaaaaaaaaa'], gold: 1, where: 'x' },
      { id: 'short-gold', context: 'cc', choices: ['b', 'aaaaaaaaaa'], gold: 0, where: 'x' },
      { id: 'three', context: 'd', choices: ['dd', 'ca', 'ab'], gold: 1, where: 'x' },
    ],
  };
  const s = await scoreTask(lm, task, letters, { window: 16, batchTokens: 64 });
  assert.deepEqual(s.map((x) => [x.correct, x.correctNorm]), [[0, 1], [1, 0], [1, 1]]);
  assert.ok(Math.abs(s[0]!.goldLogProb - lp('aaaaaaaaaa')) < 1e-5);
  assert.ok(Math.abs(s[1]!.goldLogProb - lp('b')) < 1e-5);
  assert.equal(s[0]!.goldTokens, 10);
});

test('cloze scoring is greedy match of every token; long contexts are cut from the left to the window; batching changes nothing', async () => {
  const lm = new UnigramModel(P);
  const task: Task = {
    name: 'c',
    kind: 'cloze',
    items: [
      { id: 'aaa', context: 'b'.repeat(40), choices: ['aaa'], gold: 0, where: 'x' },
      { id: 'ab', context: 'c', choices: ['ab'], gold: 0, where: 'x' },
      { id: 'empty-context', context: '', choices: ['a'], gold: 0, where: 'x' },
    ],
  };
  const big = await scoreTask(lm, task, letters, { window: 8, batchTokens: 4096 });
  assert.deepEqual(big.map((x) => x.correct), [1, 0, 1]);
  assert.equal(big[0]!.correctNorm, null);
  assert.ok(Math.abs(big[1]!.goldLogProb - lp('ab')) < 1e-5);
  assert.ok(lm.logitsCalls.every((c) => c.rowLengths.every((n) => n <= 8)), 'rows never exceed the window');
  lm.logitsCalls.length = 0;
  const small = await scoreTask(lm, task, letters, { window: 8, batchTokens: 8 });
  assert.equal(lm.logitsCalls.length, 3, 'one row per forward pass');
  assert.deepEqual(small, big);
  await assert.rejects(
    scoreTask(lm, { ...task, items: [{ id: 'long', context: '', choices: ['a'.repeat(9)], gold: 0, where: 'f.jsonl:3' }] }, letters, { window: 8, batchTokens: 64 }),
    (e: Error) => e instanceof UserError && /f\.jsonl:3: choice 0 is 9 tokens, longer than the scoring window \(8\)/.test(e.message),
  );
});

test('malformed task lines are user errors naming file:line and the problem', () => {
  const ok = { context: 'q', choices: [' a', ' b'], gold: 1 };
  const cases: Array<[string, unknown[], RegExp]> = [
    ['bad-json', [ok, '{"context": "q", "choices": [" a"'], /bad-json\.jsonl:2: not valid JSON/],
    ['not-object', ['[1, 2]'], /not-object\.jsonl:1: expected a JSON object/],
    ['no-context', [{ choices: ['a', 'b'], gold: 0 }], /no-context\.jsonl:1: "context" must be a string \(got nothing\)/],
    ['choices-string', [{ context: 'q', choices: 'a', gold: 0 }], /choices-string\.jsonl:1: "choices" must be an array of strings/],
    ['empty-choices', [ok, { context: 'q', choices: [], gold: 0 }], /empty-choices\.jsonl:2: "choices" is empty/],
    ['empty-choice', [{ context: 'q', choices: ['a', ''], gold: 0 }], /empty-choice\.jsonl:1: choice 1 is an empty string/],
    ['number-choice', [{ context: 'q', choices: ['a', 3], gold: 0 }], /number-choice\.jsonl:1: choice 1 must be a string \(got 3\)/],
    ['gold-high', [ok, ok, { context: 'q', choices: ['a', 'b'], gold: 2 }], /gold-high\.jsonl:3: "gold" 2 is out of range: there are 2 choices \(indices 0\.\.1\)/],
    ['gold-negative', [{ context: 'q', choices: ['a', 'b'], gold: -1 }], /gold-negative\.jsonl:1: "gold" -1 is out of range/],
    ['gold-float', [{ context: 'q', choices: ['a', 'b'], gold: 0.5 }], /gold-float\.jsonl:1: "gold" must be an integer index/],
    ['gold-string', [{ context: 'q', choices: ['a', 'b'], gold: '0' }], /gold-string\.jsonl:1: "gold" must be an integer index into "choices" \(got "0"\)/],
    ['id-number', [{ ...ok, id: 7 }], /id-number\.jsonl:1: "id" must be a string/],
    ['dup-id', [{ ...ok, id: 'x' }, { ...ok, id: 'x' }], /dup-id\.jsonl:2: id "x" was already used at .*dup-id\.jsonl:1/],
    ['mixed', [ok, { context: 'q', choices: [' a'], gold: 0 }], /mixed\.jsonl:2: this item has 1 choice\(s\) but .*mixed\.jsonl:1 made this a multiple-choice task/],
    ['empty-file', ['', '  '], /empty-file\.jsonl: the task file has no items/],
  ];
  for (const [name, lines, want] of cases) {
    const path = writeTask(name, lines);
    assert.throws(() => readTaskFile(path), (e: Error) => e instanceof UserError && want.test(e.message), name);
  }
  assert.throws(() => readTaskFile(join(dir, 'missing.jsonl')), /task file not found/);
  // blank lines are allowed; ids default to the line; one-choice files are cloze tasks
  const t = readTaskFile(writeTask('fine', [ok, '', { context: 'q', choices: [' x', ' y', ' z'], gold: 2, id: 'last' }]));
  assert.deepEqual(t.items.map((i) => [i.id, i.gold]), [['line1', 1], ['last', 2]]);
  assert.equal(t.name, 'fine');
  assert.equal(readTaskFile(writeTask('lambada', [{ context: 'q', choices: [' w'], gold: 0 }])).kind, 'cloze');
});
